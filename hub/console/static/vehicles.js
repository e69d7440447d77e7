// The manager's vehicle registry: registered cars (added, changed, removed here), parking
// spaces, who is inside now with how long, the blocked plates (blocked and unblocked here) and
// the CSV import of vehicles.
"use strict";
(() => {
  const {t, word, el, api, time, toast, toastError, fill, td, lang} = Lintel;
  const {confirm, formDialog, importForms, paged, watch, csv, download} = Lists;
  const COLOURS = ["blue", "green", "yellow", "white", "black"];
  // The lists name each household as the API does ("B1 101", household_label): the page
  // asks for no unit it does not show.
  const home = (row) => row.household_label ?? `#${row.household_id}`;

  // A household chosen by searching its unit ("B1 101", "101"): the API gives a few at a time.
  function householdPicker(current, testid) {
    const list = el("datalist", {id: `${testid}-choices`});
    const input = el("input", {list: list.id, "data-testid": testid, placeholder: t("vehicles.household_search"),
      autocomplete: "off", required: true, value: current ? home(current) : "", "aria-label": t("vehicles.household")});
    const found = new Map(current ? [[home(current), current.household_id]] : []);
    async function search(text) {
      const page = await api("GET", `/units?has_household=true&limit=20&q=${encodeURIComponent(text)}`)
        .catch(() => ({items: []}));
      const code = await buildingCodes();
      list.replaceChildren(...page.items.map((u) => {
        const label = `${code.get(u.building_id) ?? "?"} ${u.number}`;
        found.set(label, u.household_id);
        return el("option", {value: label});
      }));
    }
    const look = Lintel.debounce(() => {
      const text = input.value.trim();
      if (text && !found.has(text)) search(text);
    }, 200);
    input.addEventListener("input", look);
    // the household of the unit typed or chosen (a unit typed in full is looked up), or null
    async function get() {
      const text = input.value.trim();
      if (text && !found.has(text)) await search(text);
      const key = [...found.keys()].find((k) => k.toLowerCase() === text.toLowerCase());
      return key === undefined ? null : found.get(key);
    }
    return {node: el("span", {class: "picker"}, input, list), get};
  }

  let codes = null;  // building id -> code: a site's few buildings, asked once
  async function buildingCodes() {
    if (codes === null) {
      const buildings = await api("GET", "/buildings");
      codes = new Map(buildings.items.map((b) => [b.id, b.code]));
    }
    return codes;
  }

  // a registration's end with its year ("2027年1月31日", "Jan 31, 2027")
  const yearDay = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-US", {year: "numeric", month: "short", day: "numeric"});
  const date = (iso) => yearDay.format(new Date(iso));
  const day = (iso) => (iso ? iso.slice(0, 10) : "");

  // A date from the form as the end of that day in the browser's time zone, with its offset.
  function endOfDay(value) {
    if (!value) return null;
    const end = new Date(`${value}T23:59:59`);
    const off = -end.getTimezoneOffset();
    const sign = off >= 0 ? "+" : "-";
    const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
    return `${value}T23:59:59${sign}${pad(off / 60)}:${pad(off % 60)}`;
  }

  async function editVehicle(v) {
    const picker = householdPicker(v, "vehicle-household");
    const fields = [
      {name: "household_search", label: t("vehicles.household"), type: "hidden", extra: picker.node},
      {name: "plate", label: t("lanes.plate"), required: true, maxlength: 16, value: v?.plate, testid: "vehicle-plate",
        placeholder: "粤B12345"},
      {name: "colour", label: t("vehicles.colour"), type: "select", value: v?.colour ?? "blue",
        options: COLOURS.map((c) => [c, t(`vehicles.colour.${c}`)])},
      {name: "valid_until", label: t("vehicles.valid_until"), type: "date", value: day(v?.valid_until),
        testid: "vehicle-until"},
      {name: "note", label: t("vehicles.note"), maxlength: 200, value: v?.note},
    ];
    const done = await formDialog(v ? t("vehicles.edit_title", {plate: v.plate}) : t("vehicles.add_title"), fields,
      async (f) => {
        const household = await picker.get();
        if (household === null) throw new Error(t("vehicles.pick_household"));
        const body = {household_id: household, plate: f.plate, colour: f.colour,
          valid_until: endOfDay(f.valid_until), note: f.note ?? ""};
        return v ? api("PATCH", `/vehicles/${v.id}`, body) : api("POST", "/vehicles", body);
      }, {id: "vehicle-dialog"});
    if (done) { toast(t("vehicles.added"), "ok"); await load(); }
  }

  async function removeVehicle(v) {
    if (!(await confirm(t("vehicles.remove_title", {plate: v.plate}), t("vehicles.remove_text"), {danger: true}))) return;
    await api("DELETE", `/vehicles/${v.id}`);
    toast(t("vehicles.removed"), "ok");
    await load();
  }

  async function block() {
    const sites = await api("GET", "/sites");
    const fields = [
      {name: "plate", label: t("lanes.plate"), required: true, maxlength: 16, testid: "blocked-plate"},
      {name: "reason", label: t("common.reason"), required: true, maxlength: 200, testid: "blocked-reason"},
    ];
    const done = await formDialog(t("vehicles.block_title"), fields, (f) => api("POST", "/blocked-plates", {
      site_id: sites.items[0]?.id, plate: f.plate, reason: f.reason}), {id: "block-dialog"});
    if (done) { toast(t("vehicles.added"), "ok"); await load(); }
  }

  async function unblock(b) {
    if (!(await confirm(t("vehicles.unblock_title", {plate: b.plate}), t("vehicles.unblock_text")))) return;
    await api("DELETE", `/blocked-plates/${b.id}`);
    toast(t("vehicles.removed"), "ok");
    await load();
  }

  // The registered vehicles, a page at a time, searched by plate, unit or note: a compound
  // registers thousands.
  const search = document.getElementById("vehicle-search");
  const vehicles = paged({path: "/vehicles", query: () => ({q: search.value.trim()}),
    pager: document.getElementById("vehicle-pager"), count: document.getElementById("vehicle-count"),
    show: (items) => fill(document.getElementById("vehicle-rows"), items, (v) => el("tr", {"data-plate": v.plate},
      td(t("lanes.plate"), el("span", {translate: "no"}, v.plate)),
      td(t("vehicles.household"), el("span", {translate: "no"}, home(v))),
      td(t("vehicles.valid_until"), v.valid_until ? date(v.valid_until) : "—"),
      td(t("vehicles.note"), v.note || "—"),
      td(t("common.actions"),
        el("button", {class: "small", "data-testid": `edit-vehicle-${v.plate}`,
          onclick: () => editVehicle(v).catch(toastError)}, t("common.edit")), " ",
        el("button", {class: "small danger", "data-testid": `remove-vehicle-${v.plate}`,
          onclick: () => removeVehicle(v).catch(toastError)}, t("vehicles.remove")))))});
  watch([search], vehicles.first);
  document.getElementById("vehicle-export").addEventListener("click", async () => {
    try {
      const all = await vehicles.all();
      download(`vehicles-${new Date().toISOString().slice(0, 10)}.csv`, csv(
        [t("lanes.plate"), t("vehicles.household"), t("vehicles.valid_until"), t("vehicles.note")],
        all.map((v) => [v.plate, home(v), v.valid_until ? date(v.valid_until) : "", v.note])));
    } catch (error) { toastError(error); }
  });

  async function load() {
    try {
      const [, spaces, inside, blocked] = await Promise.all([
        vehicles.load(), api("GET", "/parking-spaces"), api("GET", "/vehicles/inside"),
        api("GET", "/blocked-plates")]);
      fill(document.getElementById("space-rows"), spaces.items, (s) => el("tr", {},
        td(t("vehicles.space"), s.code), td(t("vehicles.household"), home(s)),
        td(t("vehicles.kind"), t(`vehicles.kind.${s.kind}`)),
        td(t("vehicles.valid_until"), s.valid_until ? date(s.valid_until) : "—")));
      fill(document.getElementById("inside-rows"), inside.items, (s) => el("tr", {},
        td(t("lanes.plate"), s.plate), td(t("lanes.reason"), word("vehicle_reason.", s.reason)),
        td(t("vehicles.entered"), time(s.entered_at)),
        td(t("vehicles.dwell"), t("vehicles.dwell_value", {h: (s.dwell_s / 3600).toFixed(1)}))));
      fill(document.getElementById("blocked-rows"), blocked.items, (b) => el("tr", {"data-plate": b.plate},
        td(t("lanes.plate"), b.plate), td(t("common.reason"), b.reason || "—"),
        td(t("common.actions"), el("button", {class: "small", "data-testid": `unblock-${b.plate}`,
          onclick: () => unblock(b).catch(toastError)}, t("vehicles.unblock")))));
    } catch (error) { toastError(error); }
  }

  // the site's lane settings: an unknown car, a plate entering twice, a doubtful reading, a
  // household's car beyond its spaces
  const settings = document.getElementById("vehicle-settings");
  let site = null;
  async function loadSettings() {
    const sites = await api("GET", "/sites");
    site = sites.items[0]?.id ?? null;
    if (site === null) return;
    const current = await api("GET", `/vehicle-settings?site_id=${encodeURIComponent(site)}`);
    for (const name of ["temporary_entry", "passback", "over_spaces", "min_confidence"]) {
      settings.elements[name].value = current[name];
    }
    settings.dataset.loaded = "1";  // the form holds the site's values, not its defaults
  }
  settings.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("vset-error");
    error.textContent = "";
    const f = settings.elements;
    try {
      await api("POST", "/vehicle-settings", {site_id: site, temporary_entry: f.temporary_entry.value,
        passback: f.passback.value, over_spaces: f.over_spaces.value,
        min_confidence: Number(f.min_confidence.value)});
      settings.dataset.saved = String(Number(settings.dataset.saved ?? 0) + 1);
      toast(t("vehicles.added"), "ok");
    } catch (e) { error.textContent = Lists.problem(e); }
  });

  const spaceHousehold = householdPicker(null, "space-household");
  document.getElementById("space-household").replaceWith(spaceHousehold.node);
  document.getElementById("space-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const data = Object.fromEntries(new FormData(form));
    try {
      const household = await spaceHousehold.get();
      if (household === null) throw new Error(t("vehicles.pick_household"));
      await api("POST", "/parking-spaces", {household_id: household,
        code: data.code, kind: data.kind});
      toast(t("vehicles.added"), "ok");
      form.reset();
      await load();
    } catch (error) { toastError(error); }
  });
  document.getElementById("add-vehicle").addEventListener("click", () => editVehicle(null).catch(toastError));
  document.getElementById("block-plate").addEventListener("click", () => block().catch(toastError));
  importForms(load);

  load();
  loadSettings().catch(toastError);
})();
