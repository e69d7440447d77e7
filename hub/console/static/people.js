// The manager's people: residents (add, edit, search, filter, page, export), households,
// units and the CSV import; and the users page (staff and residents' app logins, roles).
"use strict";
(() => {
  const {t, word, el, api, pill, toast, toastError, fill, td} = Lintel;
  const {formDialog, paged, watch, csv, download} = Lists;
  const page = document.body.dataset.page;
  // a button that acts on the page's data, enabled once the data is there
  const ready = (id) => { const b = document.getElementById(id); b.disabled = false; return b; };
  const TYPES = ["owner", "tenant", "family_member"];
  const ROLES = ["manager", "guard", "technician", "resident"];

  // The site's small lists; its units (thousands in a compound) a building's at a time (the
  // rows name their unit themselves: `unit_label`).
  async function registry() {
    const [sites, buildings, groups] = await Promise.all(
      ["/sites", "/buildings", "/access-groups"].map((p) => api("GET", p)));
    const codes = new Map(buildings.items.map((b) => [b.id, b.code]));
    const label = (u) => `${codes.get(u.building_id)} ${u.number}`;
    return {site: sites.items[0]?.id ?? null, buildings: buildings.items, label,
      buildingUnits: async (id) => (await api("GET", `/units?building_id=${id}`)).items,
      groups: groups.items, groupName: new Map(groups.items.map((g) => [g.id, g.name]))};
  }

  // --- residents ------------------------------------------------------------------------------

  // The unit: a building, then one of its units (a compound has thousands of units).
  function residentFields(reg, place, r) {
    return [
      {name: "name", label: t("common.name"), required: true, maxlength: 200, value: r?.name, testid: "resident-name"},
      {name: "phone", label: t("common.phone"), type: "tel", maxlength: 32, value: r?.phone, pattern: "\\+?[0-9][0-9 ()\\-]*"},
      {name: "building", label: t("common.building"), type: "select", value: place.building, testid: "resident-building",
        options: [["", "—"], ...reg.buildings.map((b) => [b.id, `${b.name} (${b.code})`])]},
      {name: "unit_id", label: t("common.unit"), type: "select", value: r?.unit_id, testid: "resident-unit",
        options: unitOptions(reg, place.units)},
      {name: "type", label: t("manage.resident_type"), type: "select", value: r?.type,
        options: [["", "—"], ...TYPES.map((ty) => [ty, word("type.", ty)])]},
      {name: "id_number", label: t("manage.id_number"), maxlength: 32,
        placeholder: r?.id_number ? t("people.id_kept") : "", value: ""},
      {name: "groups", label: t("manage.groups"), type: "checks", value: r?.groups ?? [],
        options: reg.groups.map((g) => [g.id, g.name, true])},
    ];
  }

  function unitOptions(reg, units) {
    return [["", "—"], ...units.map((u) => [u.id, reg.label(u)])];
  }

  // The building the form starts on: the resident's, else the list's filter, else the first.
  async function startingPlace(reg, r, filtered) {
    let building = filtered ? Number(filtered) : reg.buildings[0]?.id ?? null;
    if (r?.unit_id) building = (await api("GET", `/units/${r.unit_id}`)).building_id;
    return {building, units: building === null ? [] : await reg.buildingUnits(building)};
  }

  // The dialog's unit list follows its building.
  function followBuilding(reg) {
    const form = document.querySelector("#resident-dialog form");
    const chosen = form.elements.building;
    const unit = form.elements.unit_id;
    chosen.addEventListener("change", async () => {
      const units = chosen.value ? await reg.buildingUnits(Number(chosen.value)).catch((e) => { toastError(e); return []; }) : [];
      unit.replaceChildren(...unitOptions(reg, units).map(([value, label]) => el("option", {value}, label)));
    });
  }

  function residentBody(v, old) {
    const body = {name: v.name, phone: v.phone, type: v.type, unit_id: v.unit_id === null ? null : Number(v.unit_id),
      groups: v.groups.map(Number)};
    if (v.id_number !== null) body.id_number = v.id_number;  // masked on the way out: only a new one is sent
    if (old && body.unit_id === old.unit_id) delete body.unit_id;
    if (old && body.unit_id === null) delete body.unit_id;  // moving out is not an edit here
    return body;
  }

  async function residentsPage() {
    const firstPage = api("GET", "/residents?limit=50&offset=0");  // beside the registry's lists
    firstPage.catch(() => {});  // awaited below; a refusal shows there
    const reg = await registry();
    const search = document.getElementById("resident-search");
    const building = document.getElementById("resident-building");
    const type = document.getElementById("resident-type");
    const group = document.getElementById("resident-group");
    building.append(...reg.buildings.map((b) => el("option", {value: b.id}, `${b.name} (${b.code})`)));
    group.append(...reg.groups.map((g) => el("option", {value: g.id, translate: "no"}, g.name)));

    let showSection = async () => {};  // the building's households and units, once chosen
    const edit = async (r) => {
      const place = await startingPlace(reg, r, building.value);
      const asked = formDialog(r ? t("people.edit_resident", {name: r.name}) : t("people.add_resident"),
        residentFields(reg, place, r), (v) => r ? api("PATCH", `/residents/${r.id}`, residentBody(v, r))
          : api("POST", "/residents", {site_id: reg.site, ...residentBody(v, null)}), {id: "resident-dialog"});
      followBuilding(reg);
      const done = await asked;
      if (done) { toast(t("people.saved")); await list.load(); await showSection(); }
    };

    const row = (r) => el("tr", {dataset: {resident: r.id}},
      td(t("common.name"), r.name), td(t("common.unit"), r.unit_label ?? "—"),
      td(t("manage.resident_type"), r.type ? word("type.", r.type) : "—"),
      td(t("common.phone"), r.phone ?? "—"), el("td", {class: "mono"}, r.id_number ?? "—"),
      td(t("manage.cards"), r.cards.map((c) => c.card_number).join(", ") || "—"),
      td(t("manage.groups"), el("span", {translate: "no"}, r.groups.map((g) => reg.groupName.get(g) ?? `#${g}`).join(", ") || "—")),
      td(t("common.actions"), el("div", {class: "actions"},
        el("button", {class: "small", "data-testid": `edit-resident-${r.id}`, onclick: () => edit(r).catch(toastError)}, t("common.edit")),
        el("a", {class: "button small", href: `/manage/cards?resident=${r.id}`}, t("people.issue_card")))));
    const query = () => ({q: search.value.trim(), building_id: building.value, type: type.value, group_id: group.value});
    const list = paged({path: "/residents", query, pager: document.getElementById("resident-pager"),
      count: document.getElementById("resident-count"),
      show: (items) => fill(document.getElementById("resident-rows"), items, row)});
    watch([search, building, type, group], list.first);
    ready("resident-add").onclick = () => edit(null).catch(toastError);
    ready("resident-export").onclick = async () => {
      try {
        const all = await list.all();
        download(`residents-${new Date().toISOString().slice(0, 10)}.csv`, csv(
          [t("common.name"), t("common.unit"), t("manage.resident_type"), t("common.phone"), t("manage.cards"), t("manage.groups")],
          all.map((r) => [r.name, r.unit_label ?? "", r.type ? word("type.", r.type) : "", r.phone ?? "",
            r.cards.map((c) => c.card_number).join(" "), r.groups.map((g) => reg.groupName.get(g) ?? g).join(" ")])));
      } catch (error) { toastError(error); }
    };
    Lists.importForms(() => list.load());
    await list.load(list.firstUrl() === "/residents?limit=50&offset=0" ? firstPage : null);  // the residents first: the household and unit lists run to thousands
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));  // painted
    // the households and units of one building at a time: a compound has thousands of each
    const chosen = document.getElementById("section-building");
    chosen.replaceChildren(...reg.buildings.map((b) => el("option", {value: b.id}, `${b.name} (${b.code})`)));
    showSection = async () => {
      const shown = await reg.buildingUnits(sectionBuilding());
      units(reg, shown);
      return households(reg, shown);
    };
    chosen.onchange = () => showSection().catch(toastError);
    await showSection();
  }

  function sectionBuilding() {
    return Number(document.getElementById("section-building").value);
  }

  async function households(reg, shown) {
    const list = await api("GET", `/households?building_id=${sectionBuilding()}`);
    const unitNames = new Map(shown.map((u) => [u.id, reg.label(u)]));
    document.getElementById("household-count").textContent = list.items.length;
    const edit = async (h) => {
      const withHousehold = new Set(list.items.map((x) => x.unit_id));
      const fields = h ? [{name: "name", label: t("common.name"), maxlength: 200, value: h.name}]
        : [{name: "unit_id", label: t("common.unit"), type: "select", required: true,
            options: [["", "—"], ...shown.filter((u) => !withHousehold.has(u.id)).map((u) => [u.id, reg.label(u)])]},
          {name: "name", label: t("common.name"), maxlength: 200}];
      const done = await formDialog(h ? t("people.edit_household") : t("people.add_household"), fields,
        (v) => h ? api("PATCH", `/households/${h.id}`, {name: v.name ?? ""})
          : api("POST", "/households", {unit_id: Number(v.unit_id), name: v.name ?? ""}));
      if (done) { toast(t("people.saved")); await households(reg, shown); }
    };
    ready("household-add").onclick = () => edit(null).catch(toastError);
    fill(document.getElementById("household-rows"), list.items, (h) => el("tr", {dataset: {household: h.id}},
      td(t("common.unit"), unitNames.get(h.unit_id) ?? `#${h.unit_id}`), td(t("common.name"), h.name || "—"),
      td(t("people.members"), h.residents.map((m) => m.name).join(", ") || "—"),
      td(t("common.actions"), el("button", {class: "small", onclick: () => edit(h).catch(toastError)}, t("common.edit")))));
  }

  function units(reg, shown) {
    document.getElementById("unit-count").textContent = shown.length;
    const codes = new Map(reg.buildings.map((b) => [b.id, b.code]));
    fill(document.getElementById("unit-rows"), shown, (u) => el("tr", {},
      td(t("common.building"), codes.get(u.building_id)), td(t("common.unit"), u.number),
      el("td", {class: "num"}, u.floor ?? "—"), el("td", {class: "num"}, u.area ?? "—"),
      td(t("common.status"), pill(word("status.", u.status), u.status === "vacant" ? "" : "info"))));
  }

  // --- users ----------------------------------------------------------------------------------

  // A resident chosen by searching for their name, phone or card (the list may be long).
  function residentPicker(name, label) {
    const list = el("datalist", {id: `${name}-choices`});
    const input = el("input", {list: list.id, "data-testid": `${name}-search`, placeholder: t("people.search"),
      autocomplete: "off"});
    const hidden = el("input", {type: "hidden", name});
    const found = new Map();
    const look = Lintel.debounce(async () => {
      const text = input.value.trim();
      if (found.has(text)) { hidden.value = found.get(text).id; return; }
      hidden.value = "";
      if (!text) return;
      const page = await api("GET", `/residents?q=${encodeURIComponent(text)}&limit=20`).catch(() => ({items: []}));
      list.replaceChildren(...page.items.map((r) => {
        const key = `${r.name} · #${r.id}`;
        found.set(key, r);
        return el("option", {value: key});
      }));
      if (found.has(input.value.trim())) hidden.value = found.get(input.value.trim()).id;
    }, 200);
    input.addEventListener("input", look);
    return {label, node: el("span", {class: "picker"}, input, list, hidden), get: () => found.get(input.value.trim())};
  }

  async function usersPage() {
    const [users, sites, techs] = await Promise.all(["/users", "/sites", "/technicians"].map((p) => api("GET", p)));
    const site = sites.items[0]?.id ?? null;
    const skills = new Map(techs.items.map((x) => [x.id, x.skills]));
    const add = async () => {
      const picker = residentPicker("resident_id");
      const fields = [
        {name: "username", label: t("login.username"), required: true, maxlength: 64, pattern: "[^\\s]+", testid: "user-name"},
        {name: "password", label: t("login.password"), type: "password", required: true, min: null, maxlength: 1024,
          autocomplete: "new-password", testid: "user-password"},
        {name: "role", label: t("people.role"), type: "select", required: true, testid: "user-role",
          options: ROLES.map((r) => [r, word("role.", r)])},
        {name: "resident_search", label: t("people.acts_as"), type: "hidden", extra: picker.node},
      ];
      const done = await formDialog(t("people.add_user"), fields, (v) => {
        if (v.password && v.password.length < 10) throw new Error(t("people.password_short"));
        const body = {username: v.username, password: v.password, role: v.role};
        if (v.role === "resident") {
          const r = picker.get();
          if (!r) throw new Error(t("people.pick_resident"));
          body.resident_id = r.id;
        } else body.site_id = site;
        return api("POST", "/users", body);
      }, {id: "user-dialog"});
      if (done) { toast(t("people.saved")); await usersPage(); }
    };
    const edit = async (u) => {
      const fields = [
        {name: "role", label: t("people.role"), type: "select", value: u.role, options: ROLES.map((r) => [r, word("role.", r)])},
        {name: "password", label: t("people.new_password"), type: "password", maxlength: 1024, autocomplete: "new-password"},
      ];
      if (u.role === "technician") {
        fields.push({name: "skills", label: t("people.skills"), value: (skills.get(u.id) || []).join(", "),
          placeholder: "general_repair, elevator_drive", testid: "user-skills"});
      }
      const done = await formDialog(t("people.edit_user", {name: u.username}), fields, async (v) => {
        const body = {};
        if (v.role !== u.role) { body.role = v.role; if (v.role !== "resident") body.site_id = site; }
        if (v.password) {
          if (v.password.length < 10) throw new Error(t("people.password_short"));
          body.password = v.password;
        }
        if (Object.keys(body).length) await api("PATCH", `/users/${u.id}`, body);
        if (u.role === "technician" && v.role === "technician") {
          await api("PATCH", `/technicians/${u.id}`,
            {skills: (v.skills || "").split(/[,，\s]+/).filter(Boolean)});
        }
        return true;
      });
      if (done) { toast(t("people.saved")); await usersPage(); }
    };
    const toggle = async (u) => {
      const disable = !u.disabled;
      if (disable && !(await Lists.confirm(t("people.disable_title", {name: u.username}), t("people.disable_text"),
        {danger: true, ok: t("people.disable")}))) return;
      try { await api("PATCH", `/users/${u.id}`, {disabled: disable}); toast(t("people.saved")); await usersPage(); }
      catch (error) { toastError(error); }
    };
    ready("user-add").onclick = () => add().catch(toastError);
    document.getElementById("user-count").textContent = users.items.length;
    const search = document.getElementById("user-search");
    const role = document.getElementById("user-role-filter");
    const show = () => {
      const text = search.value.trim().toLowerCase();
      const items = users.items.filter((u) => (!role.value || u.role === role.value)
        && (!text || u.username.toLowerCase().includes(text)));
      fill(document.getElementById("user-rows"), items, (u) => el("tr", {dataset: {user: u.username}},
        td(t("login.username"), el("span", {translate: "no"}, u.username)), td(t("people.role"), word("role.", u.role)),
        td(t("people.skills"), el("span", {translate: "no"}, (skills.get(u.id) || []).join(", ") || "—")),
        td(t("people.acts_as"), u.resident_id ? `#${u.resident_id}` : "—"),
        td(t("common.status"), u.disabled ? pill(t("people.disabled"), "bad") : pill(t("status.active"), "ok")),
        td(t("common.actions"), el("div", {class: "actions"},
          el("button", {class: "small", onclick: () => edit(u).catch(toastError)}, t("common.edit")),
          el("button", {class: u.disabled ? "small" : "small danger", onclick: () => toggle(u)},
            u.disabled ? t("people.enable") : t("people.disable"))))));
    };
    search.oninput = show;
    role.onchange = show;
    show();
  }

  const pages = {"/manage/residents": residentsPage, "/manage/users": usersPage};
  const run = pages[page];
  if (run) Promise.resolve(run()).catch(toastError);
})();
