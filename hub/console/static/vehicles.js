// The manager's vehicle registry: registered cars, parking spaces (added here), who is inside
// now with how long, and the blocked plates.
"use strict";
(() => {
  const {t, word, el, api, time, date, toast, toastError, fill, td} = Lintel;

  async function load() {
    try {
      const [vehicles, spaces, inside, blocked] = await Promise.all([
        api("GET", "/vehicles"), api("GET", "/parking-spaces"), api("GET", "/vehicles/inside"),
        api("GET", "/blocked-plates")]);
      fill(document.getElementById("vehicle-rows"), vehicles.items, (v) => el("tr", {},
        td(t("lanes.plate"), v.plate), td(t("vehicles.household"), String(v.household_id)),
        td(t("vehicles.valid_until"), v.valid_until ? date(v.valid_until) : "—")));
      fill(document.getElementById("space-rows"), spaces.items, (s) => el("tr", {},
        td(t("vehicles.space"), s.code), td(t("vehicles.household"), String(s.household_id)),
        td(t("vehicles.kind"), t(`vehicles.kind.${s.kind}`)),
        td(t("vehicles.valid_until"), s.valid_until ? date(s.valid_until) : "—")));
      fill(document.getElementById("inside-rows"), inside.items, (s) => el("tr", {},
        td(t("lanes.plate"), s.plate), td(t("lanes.reason"), word("vehicle_reason.", s.reason)),
        td(t("vehicles.entered"), time(s.entered_at)),
        td(t("vehicles.dwell"), t("vehicles.dwell_value", {h: (s.dwell_s / 3600).toFixed(1)}))));
      fill(document.getElementById("blocked-rows"), blocked.items, (b) => el("tr", {},
        td(t("lanes.plate"), b.plate), td(t("common.reason"), b.reason || "—")));
    } catch (error) { toastError(error); }
  }

  document.getElementById("space-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const data = Object.fromEntries(new FormData(form));
    try {
      await api("POST", "/parking-spaces", {household_id: Number(data.household_id),
        code: data.code, kind: data.kind});
      toast(t("vehicles.added"), "ok");
      form.reset();
      await load();
    } catch (error) { toastError(error); }
  });

  load();
})();
