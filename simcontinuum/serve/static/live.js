// Live parts of a page, htmx-style and without a framework: every element with
// data-live="URL" is replaced by the HTML that URL returns, every data-every milliseconds.
// The server renders (and escapes) that HTML; nothing here builds markup from data.
"use strict";
for (const el of document.querySelectorAll("[data-live]")) {
  const url = el.dataset.live;
  const every = Number(el.dataset.every || 3000);
  const tick = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        el.innerHTML = await response.text();
      }
    } catch (err) {
      // The server is restarting: keep the last content, try again at the next tick.
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
