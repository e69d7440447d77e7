// Home security on the resident's phone: the unit's arm state, arming away or stay and
// disarming (the building's edge decides and answers), the unit's arm schedule, and the
// unit's alarms as they come.
"use strict";
(() => {
  const {t, el, api, time, pill, toast, toastError} = Lintel;
  const state = document.getElementById("homesec-state");
  const actions = document.getElementById("homesec-actions");
  const refused = document.getElementById("homesec-refused");
  const alarms = document.getElementById("homesec-alarms");
  let lastMode = null;  // what the refused arm asked for, for "arm without them"
  let openZones = [];

  function show(s) {
    const phase = pill(t(`homesec.phase.${s.phase}`), s.phase === "alarm" ? "bad"
      : s.phase === "disarmed" ? "" : "ok");
    state.replaceChildren(el("strong", {dataset: {mode: s.mode, phase: s.phase}},
      t(`homesec.mode.${s.mode}`)), " ", phase,
      s.panel_status === "offline" ? pill(t("homesec.panel_offline"), "bad") : "",
      el("span", {class: "muted small"}, ` ${t("homesec.unit", {unit: s.unit})}`));
    actions.hidden = false;
    if (!editing) showSchedule(s.schedule);
    alarms.replaceChildren(...(s.alarms.length ? s.alarms.map((a) => el("article",
      {class: "card alarm-card", dataset: {alarm: a.type}},
      el("strong", {}, a.message),
      el("div", {class: "muted small"}, `${time(a.last_seen)}${a.count > 1 ? " · " + t("homesec.times", {n: a.count}) : ""}`)))
      : [el("p", {class: "muted"}, t("homesec.no_alarms"))]));
  }

  // The arm schedule, saved as a whole: the hub refuses a bad time, a day and time given twice
  // and more than 16 entries, naming the entry; the building's edge then arms on time.
  const MAX_ENTRIES = 16;
  const scheduleCard = document.getElementById("schedule-card");
  const rows = document.getElementById("schedule-rows");
  const scheduleError = document.getElementById("schedule-error");
  const addEntry = document.getElementById("schedule-add");
  let editing = false;  // unsaved changes: a live reload leaves the form as it is

  function entryRow(entry) {
    const days = el("div", {class: "checks", dataset: {field: "days"}}, [1, 2, 3, 4, 5, 6, 7].map((d) =>
      el("label", {}, el("input", {type: "checkbox", name: "day", value: d, checked: entry.days.includes(d)}),
        t(`homesec.day.${d}`))));
    const row = el("fieldset", {class: "schedule-entry", dataset: {testid: "schedule-entry"}},
      el("legend", {}),
      el("div", {class: "muted small"}, t("homesec.schedule_days")), days,
      el("div", {class: "form-grid"},
        el("label", {dataset: {field: "at"}}, t("homesec.schedule_at"),
          el("input", {name: "at", value: entry.at, inputmode: "numeric", placeholder: "08:30",
            maxlength: 5, autocomplete: "off"})),
        el("label", {dataset: {field: "mode"}}, t("homesec.schedule_mode"),
          el("select", {name: "mode"}, ["away", "stay", "disarmed"].map((m) =>
            el("option", {value: m, selected: entry.mode === m}, t(`homesec.schedule_do.${m}`)))))),
      el("button", {type: "button", class: "small danger", dataset: {testid: "schedule-remove"},
        onclick: () => { row.remove(); editing = true; renumber(); }}, t("homesec.schedule_remove")));
    return row;
  }

  function renumber() {
    const entries = rows.querySelectorAll("fieldset.schedule-entry");
    entries.forEach((row, j) => {
      row.dataset.index = j;
      row.querySelector("legend").textContent = t("homesec.schedule_entry", {n: j + 1});
    });
    rows.querySelector("p.muted")?.remove();
    if (!entries.length) rows.append(el("p", {class: "muted"}, t("homesec.schedule_none")));
    addEntry.disabled = entries.length >= MAX_ENTRIES;
    addEntry.title = addEntry.disabled ? t("homesec.schedule_full") : "";
  }

  function showSchedule(schedule) {
    scheduleCard.hidden = false;
    rows.replaceChildren(...schedule.map(entryRow));
    renumber();
  }

  function entries() {
    return [...rows.querySelectorAll("fieldset.schedule-entry")].map((row) => ({
      days: [...row.querySelectorAll("input[name=day]:checked")].map((c) => Number(c.value)),
      at: row.querySelector("input[name=at]").value.trim(),
      mode: row.querySelector("select[name=mode]").value}));
  }

  function markProblems(error) {
    for (const node of scheduleCard.querySelectorAll(".invalid")) node.classList.remove("invalid");
    const problems = Array.isArray(error.body?.detail) ? error.body.detail : [];
    const said = problems.map((p) => {
      const at = /^schedule\.(\d+)(?:\.(\w+))?/.exec(p.field ?? "");
      if (!at) return p.message ?? p.reason;
      const row = rows.querySelector(`fieldset[data-index="${at[1]}"]`);
      row?.classList.add("invalid");
      if (at[2]) row?.querySelector(`[data-field="${at[2]}"]`)?.classList.add("invalid");
      return t("homesec.schedule_problem", {entry: t("homesec.schedule_entry", {n: Number(at[1]) + 1}),
        message: p.message ?? p.reason});
    });
    scheduleError.textContent = said.length ? said.join("; ") : error.message;
  }

  async function saveSchedule(event) {
    event.preventDefault();
    try {
      const mine = await api("POST", "/me/home-security/schedule", {schedule: entries()});
      markProblems({body: {detail: []}, message: ""});
      editing = false;
      showSchedule(mine.schedule);
      toast(t("homesec.schedule_saved"));
    } catch (error) { markProblems(error); }
  }

  rows.addEventListener("input", () => { editing = true; });
  rows.addEventListener("change", () => { editing = true; });
  addEntry.addEventListener("click", () => {
    rows.append(entryRow({days: [1, 2, 3, 4, 5], at: "", mode: "away"}));
    editing = true;
    renumber();
    rows.lastElementChild.querySelector("input[name=at]").focus();
  });
  document.getElementById("schedule-form").addEventListener("submit", saveSchedule);

  async function load() {
    try { show(await api("GET", "/me/home-security")); }
    catch (error) {
      if (error.status === 404) { state.textContent = t("homesec.no_panel"); return; }
      throw error;
    }
  }

  async function arm(mode, bypass = []) {
    refused.hidden = true;
    const answer = await api("POST", "/me/home-security/arm", {mode, bypass});
    if (answer.result === "ok") {
      toast(t(mode === "disarmed" ? "homesec.disarmed" : "homesec.arming"));
    } else if (answer.result === "rejected" && answer.open_zones.length) {
      lastMode = mode;
      openZones = answer.open_zones.map((z) => z.zone);
      document.getElementById("homesec-refused-text").textContent = t("homesec.refused_open",
        {zones: answer.open_zones.map((z) => `${z.name} (${z.zone})`).join(", ")});
      refused.hidden = false;
    } else if (answer.result === "sent") {
      toast(t("homesec.no_answer"), "warn");
    } else {
      toast(t("homesec.refused", {reason: answer.reason}), "bad");
    }
    await load();
  }

  for (const button of actions.querySelectorAll("button[data-mode]")) {
    button.addEventListener("click", () => arm(button.dataset.mode).catch(toastError));
  }
  document.getElementById("homesec-bypass").addEventListener("click",
    () => arm(lastMode, openZones).catch(toastError));
  const reload = Lintel.debounce(() => load().catch(toastError), 100);
  Lintel.live({homesec: reload}, reload);  // loads once the feed is open (Lintel.live)
})();
