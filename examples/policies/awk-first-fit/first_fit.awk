# First fit in awk: each component's minimum replicas go to the first node (in scenario
# order) that is up, is of an allowed tier and has the cpu free. Memory, labels, pinned
# nodes and clusters are not checked here (the engine still checks them and rejects what
# does not fit). It reads only what it needs from each request, relying on the protocol's
# fixed key order (docs/protocol.md, "Key order").

function reply(s) { print s; fflush() }

# every match of regex re in s, in order, into out[1..n]; returns n
function all(s, re, out,    n) {
    n = 0
    while (match(s, re)) {
        out[++n] = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
    }
    return n
}

function field(s, key,    m) {   # the raw value after "key": (number, true/false, "text")
    if (!match(s, "\"" key "\":(\"[^\"]*\"|[^,}\\]]*)")) return ""
    m = substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", m)
    return m
}

function topology(line,    recs, n, i) {
    n = all(line, "\\{\"id\":\"[^\"]*\",\"tier\":\"[^\"]*\",\"cluster\":\"[^\"]*\",\"cores\":[0-9]+", recs)
    nodes = n
    for (i = 1; i <= n; i++) {
        node_id[i] = field(recs[i], "id")
        node_tier[i] = field(recs[i], "tier")
        node_cores[i] = field(recs[i], "cores") + 0
    }
}

function apps(line,    start, body, stop, part, rest, head, c, app, tiers) {
    start = index(line, "\"new_apps\":")
    if (start == 0) return
    body = substr(line, start)
    # one application: {"app":{"id":"A","entry":...,"components":[...]
    while (match(body, "\\{\"app\":\\{\"id\":\"[^\"]*\"")) {
        app = substr(body, RSTART, RLENGTH)
        sub(/.*"id":"/, "", app)
        sub(/"$/, "", app)
        body = substr(body, RSTART + RLENGTH)
        stop = index(body, "\"calls\":")
        part = stop ? substr(body, 1, stop) : body
        ncomp[app] = 0
        rest = part
        while (match(rest, "\\{\"id\":\"[^\"]*\",\"cpu\":[-0-9.e+]+")) {
            head = substr(rest, RSTART, RLENGTH)
            rest = substr(rest, RSTART + RLENGTH)
            c = ++ncomp[app]
            comp_id[app, c] = field(head, "id")
            comp_cpu[app, c] = field(head, "cpu") + 0
            tiers = ""
            if (match(rest, "\"placement\":\\{\"tiers\":\\[[^]]*\\]")) {
                tiers = substr(rest, RSTART, RLENGTH)
                sub(/.*\[/, "", tiers)
                sub(/\]$/, "", tiers)
                gsub(/"/, "", tiers)
            }
            comp_tiers[app, c] = "," tiers ","
            comp_min[app, c] = 1
            if (match(rest, "\"replicas_min\":[0-9]+")) comp_min[app, c] = field(substr(rest, RSTART, RLENGTH), "replicas_min") + 0
        }
    }
}

function state(line,    start, stop, body, recs, n, i, parts) {
    start = index(line, "\"nodes\":[[")
    stop = index(line, "\"placements\":")
    body = substr(line, start, stop - start)
    n = all(body, "\\[(true|false),[-0-9.e+]+", recs)
    for (i = 1; i <= n; i++) {
        split(substr(recs[i], 2), parts, ",")
        node_up[i] = (parts[1] == "true")
        node_alloc[i] = parts[2] + 0
    }
}

function place(line, id,    app, c, r, i, out, first, list, taken) {
    if (index(line, "\"topology\":")) topology(line)
    apps(line)
    state(line)
    match(line, "^\\{\"type\":\"place\",\"app\":\\{\"id\":\"[^\"]*\"")
    app = substr(line, RSTART, RLENGTH)
    sub(/.*"id":"/, "", app)
    sub(/"$/, "", app)
    for (i = 1; i <= nodes; i++) taken[i] = 0
    out = ""
    first = 1
    for (c = 1; c <= ncomp[app]; c++) {
        list = ""
        for (r = 1; r <= comp_min[app, c]; r++) {
            for (i = 1; i <= nodes; i++) {
                if (!node_up[i]) continue
                if (comp_tiers[app, c] != ",," && index(comp_tiers[app, c], "," node_tier[i] ",") == 0) continue
                if (node_cores[i] - node_alloc[i] - taken[i] < comp_cpu[app, c] - 1e-9) continue
                taken[i] += comp_cpu[app, c]
                list = list (list == "" ? "" : ",") "\"" node_id[i] "\""
                break
            }
        }
        out = out (first ? "" : ",") "\"" comp_id[app, c] "\":[" list "]"
        first = 0
    }
    reply("{\"type\":\"placement\",\"id\":" id ",\"placement\":{" out "}}")
}

{
    id = ""
    if (match($0, "\"id\":[0-9]+}$")) id = substr($0, RSTART + 5, RLENGTH - 6)
    if (index($0, "{\"type\":\"hello\"") == 1) {
        reply("{\"type\":\"hello\",\"protocol\":1,\"name\":\"awk-first-fit\",\"methods\":[\"place\"]}")
    } else if (index($0, "{\"type\":\"start\"") == 1) {
        reply("{\"type\":\"ready\",\"id\":" id "}")
    } else if (index($0, "{\"type\":\"place\"") == 1) {
        place($0, id)
    } else if (index($0, "{\"type\":\"bye\"") == 1) {
        exit 0
    } else {
        reply("{\"type\":\"error\",\"id\":" (id == "" ? 0 : id) ",\"error\":{\"type\":\"NotImplemented\",\"message\":\"awk-first-fit only places\"}}")
    }
}
