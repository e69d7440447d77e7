// The resident's vehicles page: their household's registered cars, and visitor-car passes
// (the visitor's plate, a window and a number of entries) issued and revoked from the phone.
"use strict";
(() => {
  const {t, word, el, api, time, toast, toastError, fill, td, lang} = Lintel;
  const yearDay = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-US", {year: "numeric", month: "short", day: "numeric"});
  const date = (iso) => yearDay.format(new Date(iso));
  const card = document.getElementById("car-pass-card");
  if (!card) return;  // a login not linked to a resident
  const household = Number(card.dataset.household);
  const form = document.getElementById("car-pass-form");

  function state(p) {
    if (p.revoked) return "revoked";
    if (new Date(p.valid_until) <= new Date()) return "expired";
    if (p.uses >= p.max_uses) return "used_up";
    return "active";
  }

  async function revoke(p) {
    if (!window.confirm(t("myveh.revoke_confirm", {plate: p.plate}))) return;
    await api("POST", `/vehicle-passes/${p.id}/revoke`);
    toast(t("myveh.revoked"), "ok");
    await load();
  }

  async function load() {
    const [passes, vehicles] = await Promise.all([api("GET", "/vehicle-passes"), api("GET", "/vehicles")]);
    const newest = [...passes.items].sort((a, b) => b.id - a.id);
    fill(document.getElementById("car-pass-rows"), newest, (p) => {
      const s = state(p);
      return el("tr", {"data-plate": p.plate},
        td(t("lanes.plate"), el("span", {translate: "no"}, p.plate)),
        td(t("pass.valid_until"), time(p.valid_until)),
        el("td", {class: "num", "data-label": t("myveh.entries_used")}, `${p.uses} / ${p.max_uses}`),
        td(t("common.status"), el("span", {class: `pill ${s === "active" ? "ok" : ""}`, "data-testid": "car-pass-state"},
          word("status.", s))),
        td(t("common.actions"), s === "active" ? el("button", {class: "small", "data-testid": `revoke-${p.plate}`,
          onclick: () => revoke(p).catch(toastError)}, t("common.revoke")) : "—"));
    });
    fill(document.getElementById("my-vehicle-rows"), vehicles.items, (v) => el("tr", {},
      td(t("lanes.plate"), el("span", {translate: "no"}, v.plate)),
      td(t("vehicles.valid_until"), v.valid_until ? date(v.valid_until) : "—"),
      td(t("vehicles.note"), v.note || "—")));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("car-pass-error");
    error.textContent = "";
    const now = new Date();
    const until = new Date(now.getTime() + Number(form.elements.hours.value) * 3600 * 1000);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const pass = await api("POST", "/vehicle-passes", {household_id: household,
        plate: form.elements.plate.value.trim(), valid_from: now.toISOString(),
        valid_until: until.toISOString(), max_uses: Number(form.elements.max_uses.value)});
      toast(t("myveh.issued", {plate: pass.plate}), "ok");
      form.reset();
      await load();
    } catch (e) {
      error.textContent = e.message;  // the hub's refusal, in the reader's language
    } finally { button.disabled = false; }
  });

  load().catch(toastError);
})();
