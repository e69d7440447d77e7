// Manager pages: residents and units (with the CSV import), cards and access groups, devices.
"use strict";
(() => {
  const {t, word, el, api, time, pill, statusPill, toast, toastError, fill, td} = Lintel;
  const page = document.body.dataset.page;

  async function unitNames() {
    const [buildings, units] = await Promise.all([api("GET", "/buildings"), api("GET", "/units")]);
    const codes = new Map(buildings.items.map((b) => [b.id, b.code]));
    return {codes, units: units.items,
      label: new Map(units.items.map((u) => [u.id, `${codes.get(u.building_id)} ${u.number}`]))};
  }

  async function residentsPage() {
    const [{codes, units, label}, residents] = await Promise.all([unitNames(), api("GET", "/residents")]);
    document.getElementById("resident-count").textContent = residents.items.length;
    fill(document.getElementById("resident-rows"), residents.items, (r) => el("tr", {},
      td(t("common.name"), r.name), td(t("common.unit"), label.get(r.unit_id) ?? "—"),
      td(t("manage.resident_type"), r.type ? word("type.", r.type) : "—"),
      td(t("common.phone"), r.phone ?? "—"), el("td", {class: "mono"}, r.id_number ?? "—"),
      td(t("manage.cards"), r.cards.map((c) => c.card_number).join(", ") || "—")));
    document.getElementById("unit-count").textContent = units.length;
    fill(document.getElementById("unit-rows"), units, (u) => el("tr", {},
      td(t("common.building"), codes.get(u.building_id)), td(t("common.unit"), u.number),
      el("td", {class: "num"}, u.floor ?? "—"), el("td", {class: "num"}, u.area ?? "—"),
      td(t("common.status"), pill(word("status.", u.status), u.status === "vacant" ? "" : "info"))));
  }

  async function siteId() {
    const sites = await api("GET", "/sites");
    return sites.items.length ? sites.items[0].id : null;
  }

  function importForms() {
    for (const form of document.querySelectorAll(".import-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const out = form.querySelector(".import-result");
        const body = new FormData();
        body.append("file", form.elements.file.files[0]);
        const dry = form.elements.dry_run.checked;
        try {
          const site = await siteId();
          const done = await api("POST",
            `/import/${form.dataset.kind}?site_id=${encodeURIComponent(site)}&dry_run=${dry}`, body);
          out.replaceChildren(el("div", {class: "notice ok"}, dry
            ? t("manage.import_checked", {rows: done.rows})
            : t("manage.import_ok", {rows: done.rows, created: done.created})));
          if (!dry) residentsPage().catch(toastError);
        } catch (error) {
          const problems = error.body && Array.isArray(error.body.rows) ? error.body.rows : null;
          if (error.status !== 422 || !problems) { out.replaceChildren(el("div", {class: "notice bad"}, error.message)); return; }
          const rows = problems.map((p) => el("tr", {}, el("td", {class: "num"}, p.line ?? ""),
            el("td", {translate: "no"}, p.column ?? ""), el("td", {}, p.message ?? p.reason)));
          out.replaceChildren(el("div", {class: "notice bad"}, t("manage.import_bad")),
            el("table", {class: "table"}, el("thead", {}, el("tr", {}, el("th", {}, t("manage.line")),
              el("th", {}, t("manage.column")), el("th", {}, t("common.reason")))), el("tbody", {}, rows)));
        }
      });
    }
  }

  async function cardsPage() {
    const [cards, residents, groups, schedules] = await Promise.all(
      ["/cards", "/residents", "/access-groups", "/schedules"].map((p) => api("GET", p)));
    const names = new Map(residents.items.map((r) => [r.id, r.name]));
    document.getElementById("card-count").textContent = cards.items.length;
    const setStatus = async (card, status) => {
      try { await api("PATCH", `/cards/${card.id}`, {status}); toast(t("common.done")); await cardsPage(); }
      catch (error) { toastError(error); }
    };
    fill(document.getElementById("card-rows"), cards.items, (c) => el("tr", {dataset: {card: c.card_number}},
      el("td", {class: "mono"}, c.facility_code !== null ? `${c.facility_code}:${c.card_number}` : c.card_number),
      td(t("manage.holder"), names.get(c.resident_id) ?? `#${c.resident_id}`),
      td(t("common.status"), statusPill(c.state)),
      td(t("manage.validity"), c.valid_from || c.valid_until ? `${time(c.valid_from)} – ${time(c.valid_until)}` : "—"),
      td(t("common.actions"), el("div", {class: "actions"},
        c.status === "active"
          ? [el("button", {class: "small", onclick: () => setStatus(c, "suspended")}, t("manage.suspend")),
             el("button", {class: "small danger", onclick: () => setStatus(c, "lost")}, t("manage.report_lost"))]
          : el("button", {class: "small", onclick: () => setStatus(c, "active")}, t("manage.activate"))))));
    const scheduleNames = new Map(schedules.items.map((s) => [s.id, s.name]));
    fill(document.getElementById("group-rows"), groups.items, (g) => el("tr", {},
      td(t("common.name"), g.name), td(t("common.doors"), g.doors.join(", ") || "—"),
      td(t("manage.schedule"), el("span", {translate: "no"}, scheduleNames.get(g.schedule_id) ?? "—")),
      td(t("manage.floors"), (g.floor_labels || []).join(", ") || "—"),
      el("td", {class: "num"}, residents.items.filter((r) => r.groups.includes(g.id)).length)));
  }

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
    "/manage/residents": () => { importForms(); return residentsPage(); },
    "/manage/cards": cardsPage,
    "/manage/devices": () => {
      const reload = Lintel.debounce(() => devicesPage().catch(toastError), 300);
      Lintel.live({devices: reload, edges: reload}, reload);
    },
  };
  const run = pages[page];
  if (run) Promise.resolve(run()).catch(toastError);
})();
