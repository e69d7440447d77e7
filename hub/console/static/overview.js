// The overview's tiles follow what happens: refreshed soon after anything on the live feed
// (a swipe, an alarm, an order, a device or edge changing) and every 30 s regardless.
"use strict";
(() => {
  const RULES = {  // how a tile's colour follows its value
    open_faults: (c) => (c.open_faults ? "bad" : "ok"), alarms_open: (c) => (c.alarms_open ? "bad" : "ok"),
    denied_today: (c) => (c.denied_today ? "bad" : ""), edges_online: (c) => (c.edges_online === c.edges ? "ok" : "bad"),
  };

  async function refresh() {
    const resp = await fetch("/manage/tiles", {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!resp.ok) return;
    const counts = await resp.json();
    for (const tile of document.querySelectorAll("[data-tile]")) {
      const name = tile.dataset.tile;
      const value = name === "edges_online" ? `${counts.edges_online} / ${counts.edges}` : String(counts[name]);
      const box = tile.querySelector(".value");
      if (box.textContent !== value) {
        box.textContent = value;
        tile.classList.remove("fresh");
        void tile.offsetWidth;  // restart the highlight
        tile.classList.add("fresh");
      }
      if (RULES[name]) { tile.classList.remove("ok", "bad"); const kind = RULES[name](counts); if (kind) tile.classList.add(kind); }
    }
  }

  const soon = Lintel.debounce(() => refresh().catch(() => {}), 500);
  const handlers = Object.fromEntries(window.LINTEL.channels.map((c) => [c, soon]));
  // the server counted the tiles before the feed was open: count again once it is (and on
  // each reconnect), so nothing that happened in between is missing
  Lintel.live(handlers, soon);
  setInterval(soon, 30000);
})();
