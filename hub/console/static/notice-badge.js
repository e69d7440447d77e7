// A resident's menu shows how many current notices they have not opened yet; opening the
// notices page marks them read (remembered on this phone).
"use strict";
(() => {
  const KEY = "lintel.notices.seen";
  const link = document.querySelector('nav.tabs a[data-nav="/me/notices"]');
  if (!link) return;
  const badge = Lintel.el("span", {class: "badge", "data-testid": "notice-badge", hidden: true});
  link.append(badge);
  const seen = () => new Set(JSON.parse(localStorage.getItem(KEY) || "[]"));

  async function check() {
    const list = await Lintel.api("GET", "/notices?current=true");
    const ids = list.items.map((n) => n.id);
    if (document.body.dataset.page === "/me/notices") {
      localStorage.setItem(KEY, JSON.stringify(ids));
      badge.hidden = true;
      return;
    }
    const known = seen();
    const fresh = ids.filter((id) => !known.has(id)).length;
    badge.textContent = fresh ? String(fresh) : "";
    badge.hidden = fresh === 0;
    badge.title = Lintel.t("notices.unread", {n: fresh});
  }

  check().catch(() => {});
  setInterval(() => check().catch(() => {}), 60000);
  window.addEventListener("lintel:notices", () => check().catch(() => {}));
})();
