// Visitor passes: issue (at the guard's desk, by a manager, or by a resident for their own
// unit), show the QR and the share link, list them and revoke.
"use strict";
(() => {
  const {t, el, api, statusPill, toast, toastError, fill, td, copy} = Lintel;
  const form = document.getElementById("pass-form");
  if (!form) return;
  const ownUnit = form.dataset.unit ? Number(form.dataset.unit) : null;

  // The host unit: a building, then one of its units (a compound has thousands of units).
  async function loadChoices() {
    if (ownUnit !== null) return;  // a resident: their own unit only (the building list is staff's)
    const [buildings, doors] = await Promise.all(["/buildings", "/doors"].map((path) => api("GET", path)));
    const building = form.elements.building;
    const select = form.elements.unit_id;
    building.replaceChildren(el("option", {value: ""}, "—"),
      ...buildings.items.map((b) => el("option", {value: b.id}, `${b.name} (${b.code})`)));
    building.onchange = async () => {
      select.replaceChildren(el("option", {value: ""}, "—"));
      if (!building.value) return;
      const units = await api("GET", `/units?building_id=${building.value}`).catch((e) => { toastError(e); return {items: []}; });
      select.replaceChildren(el("option", {value: ""}, "—"),
        ...units.items.map((u) => el("option", {value: u.id}, u.number)));
    };
    document.getElementById("pass-doors").replaceChildren(...doors.items.map((d) =>
      el("label", {}, el("input", {type: "checkbox", name: "doors", value: d.name, checked: false}),
        ` ${d.label || d.name}`)));
  }

  // The visitor's page on this console for a pass (the API's share link is the bare image).
  function visitLink(p) {
    const code = new URL(p.share_url).searchParams.get("code");
    return `${location.origin}/visit/${code}`;
  }

  function state(p) {
    if (p.status === "revoked") return "revoked";
    if (new Date(p.valid_until) <= new Date()) return "expired";
    if (p.uses >= p.max_uses) return "used_up";
    return "active";
  }

  // The list, newest first, a page at a time (the API's cursor), searched and filtered there.
  const filters = document.getElementById("pass-filters");
  const more = document.getElementById("pass-more");
  const end = document.getElementById("pass-end");
  const PAGE = 50;
  let cursor = null;

  function passRow(p) {
    const s = state(p);
    return el("tr", {dataset: {pass: p.id}},
      td(t("pass.visitor_name"), p.visitor_name, el("div", {class: "muted small"}, p.visitor_phone)),
      td(t("common.unit"), p.unit_label),
      td(t("common.doors"), p.doors.join(", ")),
      td(t("pass.valid_until"), Lintel.date(p.valid_until)),
      el("td", {class: "num", "data-label": t("pass.uses"), title: Lintel.plural("pass.n_uses", p.max_uses)},
        `${p.uses} / ${p.max_uses}`),
      td(t("common.status"), statusPill(s)),
      td(t("common.actions"), el("div", {class: "actions"},
        s === "active" ? el("a", {class: "button small", href: p.qr_url, target: "_blank"}, t("pass.qr")) : null,
        s === "active" ? el("button", {class: "small", onclick: () => copy(visitLink(p))}, t("common.copy")) : null,
        p.status === "active" ? el("button", {class: "small danger", "data-testid": `revoke-${p.id}`,
          onclick: () => revoke(p)}, t("common.revoke")) : null)));
  }

  async function loadPasses(next = false) {
    const params = new URLSearchParams({limit: String(PAGE)});
    if (filters) {
      const q = filters.elements.q.value.trim();
      if (q) params.set("q", q);
      if (filters.elements.state.value) params.set("state", filters.elements.state.value);
    }
    if (next && cursor) params.set("cursor", cursor);
    const list = await api("GET", `/visitor-passes?${params}`);
    const rows = document.getElementById("pass-rows");
    if (next) list.items.forEach((p) => rows.append(passRow(p)));
    else fill(rows, list.items, passRow);
    cursor = list.next_cursor;
    if (more) more.hidden = !cursor;
    if (end) end.hidden = Boolean(cursor) || !rows.querySelector("tr[data-pass]");
  }

  if (filters) {
    filters.addEventListener("submit", (ev) => ev.preventDefault());
    const again = Lintel.debounce(() => loadPasses().catch(toastError), 250);
    filters.elements.q.addEventListener("input", again);
    filters.elements.state.addEventListener("change", again);
  }
  if (more) more.addEventListener("click", () => loadPasses(true).catch(toastError));

  async function revoke(p) {
    if (!window.confirm(t("common.revoke_confirm"))) return;
    try {
      await api("POST", `/visitor-passes/${p.id}/revoke`);
      const issued = document.getElementById("pass-issued");
      if (issued.dataset.pass === String(p.id)) {  // a revoked pass's QR must not stay on screen
        issued.hidden = true;
        document.getElementById("pass-qr").removeAttribute("src");
        delete document.getElementById("pass-qr").dataset.token;
      }
      toast(t("pass.revoked"));
      await loadPasses();
    } catch (error) { toastError(error); }
  }

  // The desk's printed slip: the visitor, the host, the doors and the window beside the QR.
  function fillSlip(pass) {
    const slip = document.getElementById("pass-slip");
    if (!slip) return;
    const doorNames = new Map([...form.querySelectorAll("input[name=doors]")].map((c) =>
      [c.value, c.parentElement.textContent.trim()]));
    const put = (id, text) => { document.getElementById(id).textContent = text; };
    put("slip-name", pass.visitor_name);
    put("slip-phone", pass.visitor_phone);
    put("slip-unit", pass.unit_label);
    put("slip-doors", pass.doors.map((d) => doorNames.get(d) || d).join("、"));
    put("slip-until", `${Lintel.date(pass.valid_from)} – ${Lintel.date(pass.valid_until)}`);
    put("slip-uses", String(pass.max_uses));
    document.getElementById("pass-print").onclick = () => {
      document.body.classList.add("printing-slip");
      window.addEventListener("afterprint", () => document.body.classList.remove("printing-slip"), {once: true});
      window.print();
    };
  }

  function showIssued(pass) {
    const box = document.getElementById("pass-issued");
    box.dataset.pass = pass.id;
    document.getElementById("pass-issued-title").textContent = t("pass.issued", {name: pass.visitor_name});
    const img = document.getElementById("pass-qr");
    img.src = `data:image/png;base64,${pass.qr_png_base64}`;
    img.dataset.token = pass.token;  // the text the QR code holds
    const link = visitLink(pass);
    document.getElementById("pass-share").value = link;
    document.getElementById("pass-copy").onclick = () => copy(link);
    const share = document.getElementById("pass-share-button");
    share.hidden = !navigator.share;
    share.onclick = () => navigator.share({title: t("visit.title"), url: link}).catch(() => {});
    fillSlip(pass);
    box.hidden = false;
    box.scrollIntoView({behavior: "smooth", block: "center"});
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("pass-error");
    error.textContent = "";
    const doors = [...form.querySelectorAll("input[name=doors]:checked")].map((c) => c.value);
    if (!doors.length) { error.textContent = t("pass.pick_door"); return; }
    const now = new Date();
    const until = new Date(now.getTime() + Number(form.elements.hours.value) * 3600 * 1000);
    const body = {
      visitor_name: form.elements.visitor_name.value.trim(),
      visitor_phone: form.elements.visitor_phone.value.trim(),
      unit_id: ownUnit ?? Number(form.elements.unit_id.value),
      doors, valid_from: now.toISOString(), valid_until: until.toISOString(),
      max_uses: Number(form.elements.max_uses.value),
    };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      showIssued(await api("POST", "/visitor-passes", body));
      form.reset();
      await loadPasses();
    } catch (e) {
      error.textContent = e.message;
    } finally { button.disabled = false; }
  });

  // the list (its unit names come with it) beside the choices
  Promise.all([loadChoices(), loadPasses()]).catch(toastError);
})();
