// Manager pages: devices and the equipment ledger (people: people.js; cards: cards.js).
"use strict";
(() => {
  const {t, word, el, api, time, pill, statusPill, toast, toastError, fill, td} = Lintel;
  const page = document.body.dataset.page;

  async function devicesPage() {
    const [buildings, edges, devices] = await Promise.all(
      ["/buildings", "/edges", "/devices"].map((p) => api("GET", p)));
    const names = new Map(buildings.items.map((b) => [b.id, b.name]));
    fill(document.getElementById("edge-rows"), edges.items, (e) => el("tr", {},
      td(t("guard.edge"), e.name), td(t("common.building"), names.get(e.building_id) ?? "—"),
      td(t("common.status"), statusPill(e.status)), td(t("guard.last_seen"), time(e.last_seen)),
      el("td", {class: "num"}, e.perm_version_held ?? "—"),
      // what the edge sent that the hub refused, and what the hub sent that the edge refused
      el("td", {class: "num", title: t("manage.dead_letters")},
        e.dead_letter_count ? pill(String(e.dead_letter_count), "bad") : "0"),
      el("td", {class: "num", title: t("manage.downlink_refused")},
        e.downlink_refused ? pill(String(e.downlink_refused), "bad") : (e.downlink_refused ?? "—")),
      // the configuration it runs; a refused newer one in red, with the edge's reason
      td(t("manage.config_version"), e.config_refused
        ? pill(t("manage.config_refused", {reason: e.config_refused}), "bad")
        : (e.config_version_held == null ? "—" : `v${e.config_version_held}`))));
    fill(document.getElementById("device-rows"), devices.items, (d) => el("tr", {},
      td(t("common.name"), d.name), td(t("guard.edge"), d.edge), td(t("manage.device_type"), word("device.", d.device_type)),
      td(t("manage.model"), d.model), td(t("common.status"), statusPill(d.status)),
      td(t("guard.last_seen"), time(d.last_seen)),
      td(t("manage.open_faults"), d.open_faults ? pill(String(d.open_faults), "bad") : "0")));
  }

  async function equipmentPage() {
    const list = await api("GET", "/equipment");
    const edit = async (e) => {
      const value = window.prompt(t("equipment.cycle"), e.cycle_days ?? "");
      if (value === null) return;
      try {
        await api("PATCH", `/equipment/${e.id}`, {cycle_days: value ? Number(value) : null});
        toast(t("equipment.saved"));
        await equipmentPage();
      } catch (error) { toastError(error); }
    };
    fill(document.getElementById("equipment-rows"), list.items, (e) => el("tr", {dataset: {device: e.name}},
      td(t("common.name"), e.name), td(t("manage.device_type"), word("device.", e.device_type)), td(t("manage.model"), e.model),
      td(t("equipment.installed"), e.install_date ?? "—"), el("td", {class: "num"}, e.cycle_days ?? "—"),
      td(t("equipment.last"), e.last_maintained_on ?? "—"),
      td(t("equipment.next"), e.next_due_on ?? "—"),
      // the rules' several cycles (TSG T5002-2017, GB 25201-2010): each one's next due date
      td(t("equipment.cycles"), (e.cycles || []).map((c) =>
        `${Lintel.lang === "zh" ? c.text_zh : c.text_en} ${c.next_due_on}`).join("; ") || "—"),
      td(t("equipment.order"), e.open_preventive_order ? `#${e.open_preventive_order}` : "—"),
      td(t("common.actions"), el("button", {class: "small", onclick: () => edit(e)}, t("equipment.edit")))));
  }

  const pages = {
    "/manage/equipment": equipmentPage,
    "/manage/devices": () => {
      const reload = Lintel.debounce(() => devicesPage().catch(toastError), 300);
      Lintel.live({devices: reload, edges: reload}, reload);
    },
  };
  const run = pages[page];
  if (run) Promise.resolve(run()).catch(toastError);
})();
