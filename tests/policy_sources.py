"""Policy files used as submissions by the leaderboard and competition-server tests: two
good ones (built-ins under another name) and the hostile classes every evaluation must
contain (raise, exit the process, exhaust memory, fail to import)."""

FIRST_FIT = """
from simcontinuum.policy.builtins import FirstFit as _Base

class Mine(_Base):
    name = "mine"
"""
BEST_FIT = """
from simcontinuum.policy.builtins import BestFit as _Base

class Mine(_Base):
    pass
"""
HOSTILE = {
    "raises.py": """
class Broken:
    def place(self, app, view):
        raise ValueError("boom <b>bold</b>")
""",
    "exits.py": """
import os

class Quitter:
    def place(self, app, view):
        os._exit(3)
""",
    "hog.py": """
class Hog:
    def place(self, app, view):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))
""",
    "badimport.py": "import definitely_not_a_module\n",
}
