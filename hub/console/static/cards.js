// Cards and access: issue a card (its number typed, or read at a door: the door refuses the
// unknown card and reports its number, which the page takes from the live access feed),
// replace, suspend, report lost (after a confirmation); access groups with their doors,
// schedule and members; schedules and holidays.
"use strict";
(() => {
  const {t, word, el, api, time, statusPill, toast, toastError, fill, td} = Lintel;
  const {confirm, formDialog, paged, watch, csv, download} = Lists;
  const DAYS = [0, 1, 2, 3, 4, 5, 6];
  let site = null;
  let doors = [];
  let schedules = [];
  let groups = [];
  let cardList = null;
  // a button that acts on the page's data, enabled once the data is there
  const ready = (id) => { const b = document.getElementById(id); b.disabled = false; return b; };

  // --- the holder: searched by name, phone or card number ---------------------------------

  const holderBox = document.getElementById("card-holder");
  const holderInput = el("input", {list: "holder-choices", required: true, autocomplete: "off",
    "data-testid": "card-holder", placeholder: t("people.search")});
  const holderChoices = el("datalist", {id: "holder-choices"});
  holderBox.replaceWith(holderInput, holderChoices);
  const found = new Map();
  const holderKey = (r) => `${r.name} · #${r.id}`;
  holderInput.addEventListener("input", Lintel.debounce(async () => {
    const text = holderInput.value.trim();
    if (!text || found.has(text)) return;
    const page = await api("GET", `/residents?q=${encodeURIComponent(text)}&limit=20`).catch(() => ({items: []}));
    holderChoices.replaceChildren(...page.items.map((r) => { found.set(holderKey(r), r); return el("option", {value: holderKey(r)}); }));
  }, 200));
  const holder = () => found.get(holderInput.value.trim());

  async function preselect() {
    const wanted = new URLSearchParams(location.search).get("resident");
    if (!wanted) return;
    const r = await api("GET", `/residents/${Number(wanted)}`).catch(() => null);
    if (r) { found.set(holderKey(r), r); holderInput.value = holderKey(r); }
  }

  // --- enrol at a door ------------------------------------------------------------------

  const form = document.getElementById("card-form");
  const enrolDoor = document.getElementById("enrol-door");
  const enrolStatus = document.getElementById("enrol-status");
  let enrolling = null;  // {door, timer}

  function stopEnrol(text) {
    if (enrolling) clearTimeout(enrolling.timer);
    enrolling = null;
    enrolStatus.textContent = text ?? "";
  }

  ready("enrol-start").onclick = () => {
    const door = enrolDoor.value;
    if (!door) return;
    stopEnrol();
    const label = enrolDoor.selectedOptions[0].textContent;
    enrolling = {door, timer: setTimeout(() => stopEnrol(t("cards.enrol_timeout")), 120000)};
    enrolStatus.textContent = t("cards.enrol_waiting", {door: label});
  };

  function onAccess(e) {
    if (!enrolling || e.door !== enrolling.door || e.credential_type !== "card" || !e.credential) return;
    if (!/^[0-9]{1,20}$/.test(e.credential)) { enrolStatus.textContent = t("cards.enrol_unreadable"); return; }
    form.elements.card_number.value = e.credential;
    stopEnrol(e.result === "granted" ? t("cards.enrol_known", {number: e.credential})
      : t("cards.enrol_read", {number: e.credential}));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("card-error");
    error.textContent = "";
    const r = holder();
    if (!r) { error.textContent = t("people.pick_resident"); return; }
    const body = {resident_id: r.id, card_number: form.elements.card_number.value.trim()};
    if (form.elements.valid_until.value) body.valid_until = new Date(`${form.elements.valid_until.value}T23:59:59`).toISOString();
    try {
      const card = await api("POST", "/cards", body);
      toast(t("cards.issued", {number: card.card_number, name: r.name}));
      form.reset();
      stopEnrol();
      await cardList.first();
    } catch (e) { error.textContent = Lists.problem(e); }
  });

  // --- the cards ------------------------------------------------------------------------

  async function setStatus(c, status) {
    try { await api("PATCH", `/cards/${c.id}`, {status}); toast(t("common.done")); await cardList.load(); }
    catch (error) { toastError(error); }
  }

  async function reportLost(c) {
    const ok = await confirm(t("cards.lost_title", {number: c.card_number}),
      t("cards.lost_text", {number: c.card_number, name: c.holder ?? ""}), {danger: true, ok: t("manage.report_lost")});
    if (ok) await setStatus(c, "lost");
  }

  async function suspend(c) {
    const ok = await confirm(t("cards.suspend_title", {number: c.card_number}), t("cards.suspend_text"),
      {ok: t("manage.suspend")});
    if (ok) await setStatus(c, "suspended");
  }

  async function replace(c) {
    const done = await formDialog(t("cards.replace_title", {number: c.card_number, name: c.holder ?? ""}), [
      {name: "card_number", label: t("cards.new_number"), required: true, pattern: "[0-9]{1,20}", maxlength: 20, testid: "replace-number"},
      {name: "old_status", label: t("cards.old_card"), type: "select", value: "revoked",
        options: [["revoked", t("status.revoked")], ["lost", t("status.lost")]]},
    ], (v) => api("POST", `/cards/${c.id}/replace`, {card_number: v.card_number, old_status: v.old_status}),
    {ok: t("cards.replace")});
    if (done) { toast(t("cards.replaced", {number: done.card_number})); await cardList.load(); }
  }

  function cardRow(c) {
    const live = c.status === "active" || c.status === "suspended";
    return el("tr", {dataset: {card: c.card_number}},
      el("td", {class: "mono"}, c.facility_code !== null ? `${c.facility_code}:${c.card_number}` : c.card_number),
      td(t("manage.holder"), c.holder ?? `#${c.resident_id}`),
      td(t("common.status"), statusPill(c.state)),
      td(t("manage.validity"), c.valid_from || c.valid_until ? `${time(c.valid_from)} – ${time(c.valid_until)}` : "—"),
      td(t("common.actions"), el("div", {class: "actions"},
        c.status === "active" ? [
          el("button", {class: "small", "data-testid": `suspend-${c.card_number}`, onclick: () => suspend(c)}, t("manage.suspend")),
          el("button", {class: "small danger", "data-testid": `lost-${c.card_number}`, onclick: () => reportLost(c)}, t("manage.report_lost"))]
          : c.status === "suspended" ? el("button", {class: "small", onclick: () => setStatus(c, "active")}, t("manage.activate")) : null,
        live ? el("button", {class: "small", "data-testid": `replace-${c.card_number}`, onclick: () => replace(c).catch(toastError)}, t("cards.replace")) : null)));
  }

  function cards() {
    const search = document.getElementById("card-search");
    const state = document.getElementById("card-state");
    cardList = paged({path: "/cards", query: () => ({q: search.value.trim(), state: state.value}),
      pager: document.getElementById("card-pager"), count: document.getElementById("card-count"),
      show: (items) => fill(document.getElementById("card-rows"), items, cardRow)});
    watch([search, state], cardList.first);
    ready("card-export").onclick = async () => {
      try {
        const all = await cardList.all();
        download(`cards-${new Date().toISOString().slice(0, 10)}.csv`, csv(
          [t("manage.card_number"), t("manage.holder"), t("common.status"), t("field.valid_from"), t("field.valid_until")],
          all.map((c) => [c.card_number, c.holder ?? "", word("status.", c.state), c.valid_from ?? "", c.valid_until ?? ""])));
      } catch (error) { toastError(error); }
    };
    return cardList.load();
  }

  // --- access groups --------------------------------------------------------------------

  const doorLabel = (door) => doors.find((d) => d.name === door)?.label || door;
  // a name people gave (a group's, a schedule's): shown as it is, in either language
  const name = (text) => el("span", {translate: "no"}, text ?? "—");
  const scheduleName = (id) => schedules.find((s) => s.id === id)?.name;

  async function editGroup(g) {
    const done = await formDialog(g ? t("groups.edit", {name: g.name}) : t("groups.add"), [
      {name: "name", label: t("common.name"), required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*",
        value: g?.name, testid: "group-name"},
      {name: "doors", label: t("common.doors"), type: "checks", value: g?.doors ?? [],
        options: doors.map((d) => [d.name, d.label || d.name])},
      {name: "schedule_id", label: t("manage.schedule"), type: "select", value: g?.schedule_id ?? "",
        options: [["", t("groups.always")], ...schedules.map((s) => [s.id, s.name, true])]},
    ], (v) => {
      const body = {name: v.name, doors: v.doors, schedule_id: v.schedule_id === null ? null : Number(v.schedule_id)};
      return g ? api("PATCH", `/access-groups/${g.id}`, body) : api("POST", "/access-groups", {site_id: site, ...body});
    }, {id: "group-dialog"});
    if (done) { toast(t("people.saved")); await loadGroups(); }
  }

  async function members(g) {
    const list = await api("GET", `/residents?group_id=${g.id}&limit=500`);
    const rows = el("ul", {class: "row-list", "data-testid": "member-list"});
    const show = (items) => rows.replaceChildren(...(items.length ? items.map((r) => el("li", {dataset: {resident: r.id}},
      el("span", {class: "grow"}, r.name), el("button", {type: "button", class: "small danger",
        onclick: () => change(r.id, false).catch(toastError)}, t("groups.remove_member"))))
      : [el("li", {class: "muted"}, t("common.none"))]));
    const change = async (residentId, join) => {
      const r = await api("GET", `/residents/${residentId}`);
      const next = join ? [...new Set([...r.groups, g.id])] : r.groups.filter((x) => x !== g.id);
      await api("PATCH", `/residents/${residentId}`, {groups: next});
      const again = await api("GET", `/residents?group_id=${g.id}&limit=500`);
      show(again.items);
      toast(join ? t("groups.joined", {name: r.name, group: g.name}) : t("groups.left", {name: r.name, group: g.name}));
    };
    show(list.items);
    const input = el("input", {list: "member-choices", autocomplete: "off", placeholder: t("people.search"),
      "data-testid": "member-search"});
    const choices = el("datalist", {id: "member-choices"});
    const seen = new Map();
    input.addEventListener("input", Lintel.debounce(async () => {
      const text = input.value.trim();
      if (!text || seen.has(text)) return;
      const page = await api("GET", `/residents?q=${encodeURIComponent(text)}&limit=20`).catch(() => ({items: []}));
      choices.replaceChildren(...page.items.map((r) => { seen.set(holderKey(r), r); return el("option", {value: holderKey(r)}); }));
    }, 200));
    const add = el("button", {type: "button", class: "small primary", "data-testid": "member-add", onclick: () => {
      const r = seen.get(input.value.trim());
      if (!r) { toast(t("people.pick_resident"), "bad"); return; }
      change(r.id, true).then(() => { input.value = ""; }).catch(toastError);
    }}, t("groups.add_member"));
    await formDialog(t("groups.members", {name: g.name}), [
      {name: "member", label: "", type: "hidden",
        extra: el("div", {class: "stacked"}, rows, el("span", {class: "inline-form"}, input, choices, add))},
    ], async () => true, {ok: t("common.close"), id: "members-dialog"});
    await loadGroups();
  }

  async function loadGroups() {
    const list = await api("GET", "/access-groups");
    groups = list.items;
    const counts = await Promise.all(groups.map((g) => api("GET", `/residents?group_id=${g.id}&limit=1`)));
    fill(document.getElementById("group-rows"), groups, (g) => el("tr", {dataset: {group: g.name}},
      td(t("common.name"), name(g.name)), td(t("common.doors"), g.doors.map(doorLabel).join(", ") || "—"),
      td(t("manage.schedule"), g.schedule_id === null ? t("groups.always") : name(scheduleName(g.schedule_id))),
      td(t("manage.floors"), (g.floor_labels || []).join(", ") || "—"),
      el("td", {class: "num"}, counts[groups.indexOf(g)].total),
      td(t("common.actions"), el("div", {class: "actions"},
        el("button", {class: "small", "data-testid": `edit-group-${g.name}`, onclick: () => editGroup(g).catch(toastError)}, t("common.edit")),
        el("button", {class: "small", "data-testid": `members-${g.name}`, onclick: () => members(g).catch(toastError)}, t("manage.members"))))));
  }

  // --- schedules and holidays -----------------------------------------------------------

  function windowText(w) {
    return `${w.days.map((d) => t(`day.${d}`)).join(" ")} ${w.start}–${w.end}`;
  }

  async function editSchedule(s) {
    const first = s?.windows[0] ?? {days: [0, 1, 2, 3, 4], start: "07:00", end: "22:00"};
    const done = await formDialog(s ? t("schedules.edit", {name: s.name}) : t("schedules.add"), [
      {name: "name", label: t("common.name"), required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*", value: s?.name},
      {name: "days", label: t("schedules.days"), type: "checks", value: first.days, options: DAYS.map((d) => [d, t(`day.${d}`)])},
      {name: "start", label: t("schedules.start"), type: "time", required: true, value: first.start},
      {name: "end", label: t("schedules.end"), required: true, value: first.end, pattern: "([01][0-9]|2[0-3]):[0-5][0-9]|24:00",
        placeholder: "22:00"},
    ], (v) => {
      if (!v.days.length) throw new Error(t("schedules.pick_day"));
      const body = {name: v.name, windows: [{days: v.days.map(Number), start: v.start, end: v.end}]};
      return s ? api("PATCH", `/schedules/${s.id}`, body) : api("POST", "/schedules", {site_id: site, ...body});
    });
    if (done) { toast(t("people.saved")); await loadSchedules(); await loadGroups(); }
  }

  async function loadSchedules(asked = null) {
    schedules = (await (asked ?? api("GET", "/schedules"))).items;
    fill(document.getElementById("schedule-rows"), schedules, (s) => el("tr", {},
      td(t("common.name"), name(s.name)), td(t("schedules.windows"), s.windows.map(windowText).join("; ")),
      td(t("common.actions"), el("button", {class: "small", onclick: () => editSchedule(s).catch(toastError)}, t("common.edit")))));
  }

  async function loadHolidays() {
    const list = await api("GET", "/holidays");
    fill(document.getElementById("holiday-rows"), list.items, (h) => el("tr", {},
      td(t("holidays.day"), h.day), td(t("common.name"), h.name || "—"),
      td(t("common.actions"), el("button", {class: "small danger", onclick: async () => {
        if (!(await confirm(t("holidays.remove_title", {day: h.day}), t("holidays.remove_text"), {danger: true}))) return;
        try { await api("DELETE", `/holidays/${h.id}`); await loadHolidays(); } catch (error) { toastError(error); }
      }}, t("holidays.remove")))));
  }

  const holidayForm = document.getElementById("holiday-form");
  holidayForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/holidays", {site_id: site, day: holidayForm.elements.day.value,
        name: holidayForm.elements.name.value.trim()});
      holidayForm.reset();
      await loadHolidays();
    } catch (error) { toastError(error); }
  });

  async function start() {
    const [sites, doorList, scheduleList] = await Promise.all(
      ["/sites", "/doors", "/schedules"].map((path) => api("GET", path)));
    site = sites.items[0]?.id ?? null;
    doors = doorList.items;
    enrolDoor.replaceChildren(...doors.map((d) => el("option", {value: d.name}, d.label || d.name)));
    await loadSchedules(Promise.resolve(scheduleList));
    await Promise.all([preselect(), cards(), loadGroups(), loadHolidays()]);
    ready("group-add").onclick = () => editGroup(null).catch(toastError);
    ready("schedule-add").onclick = () => editSchedule(null).catch(toastError);
  }

  let started = false;
  Lintel.live({access: onAccess}, () => {
    if (started) return cardList.load().catch(toastError);
    started = true;
    return start().catch(toastError);
  });
})();
