// Work orders: a technician's orders (accept, start, notes, parts, resolve), a manager's list
// (close), a resident's repair requests (ask, follow, confirm, rate). New ones arrive live.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toast, toastError, askReason, lang} = Lintel;
  const box = document.getElementById("orders");
  const me = Number(box.dataset.me);
  const role = box.dataset.role;
  const filter = document.getElementById("order-filter");
  const open = new Set();  // orders whose details are shown
  const devices = new Map();
  const STATE_KIND = {open: "warn", assigned: "info", in_progress: "info", resolved: "ok", closed: ""};
  const PRIORITY_KIND = {urgent: "bad", high: "warn", normal: "", low: ""};

  async function act(order, action, body) {
    try {
      await api("POST", `/work-orders/${order.id}/${action}`, body);
      toast(t("wo.done"));
      await load();
    } catch (error) { toastError(error); }
  }

  function actions(o) {
    const buttons = [];
    const mine = o.assignee_id === me;
    if (role === "technician" && o.state === "open" && o.assignee_id === null) {
      buttons.push(el("button", {class: "primary", "data-testid": `accept-${o.id}`,
        onclick: () => act(o, "accept", {})}, t("wo.accept")));
    }
    if ((mine || role !== "technician") && o.state === "assigned" && role !== "resident") {
      buttons.push(el("button", {class: "primary", "data-testid": `start-${o.id}`,
        onclick: () => act(o, "start", {})}, t("wo.start")));
    }
    if ((mine || role !== "technician") && o.state === "in_progress" && role !== "resident") {
      buttons.push(el("button", {class: "primary", "data-testid": `resolve-${o.id}`, onclick: async () => {
        const note = await askReason(t("wo.resolve_title", {title: o.title}), {label: t("wo.resolve_prompt")});
        if (note !== null) await act(o, "resolve", {note});
      }}, t("wo.resolve")));
    }
    if (o.state === "resolved" && (role === "manager" || role === "admin" || role === "resident")) {
      buttons.push(el("button", {class: "primary", onclick: () => act(o, "close", {})},
        role === "resident" ? t("wo.confirm_done") : t("wo.close")));
    }
    if (role === "resident" && o.state === "closed" && o.rating === null) {
      buttons.push(el("span", {class: "stars", title: t("repairs.rate")}, [1, 2, 3, 4, 5].map((n) =>
        el("button", {class: "link", "aria-label": `${n}`, onclick: () => act(o, "rating", {stars: n})}, "★"))));
    }
    buttons.push(el("button", {class: "small", "data-testid": `details-${o.id}`, onclick: () => {
      if (open.has(o.id)) open.delete(o.id); else open.add(o.id);
      load().catch(toastError);
    }}, open.has(o.id) ? t("wo.hide") : t("wo.details")));
    return el("div", {class: "actions"}, buttons);
  }

  function detail(d) {
    const working = role !== "resident" && !["resolved", "closed"].includes(d.state);
    const noteForm = el("form", {class: "inline-form"},
      el("input", {name: "text", required: true, maxlength: 4000, placeholder: t("wo.notes")}),
      el("button", {type: "submit", class: "small"}, t("wo.add_note")));
    noteForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", `/work-orders/${d.id}/notes`, {text: noteForm.elements.text.value.trim()}); await load(); }
      catch (error) { toastError(error); }
    });
    const partForm = el("form", {class: "inline-form"},
      el("input", {name: "name", required: true, maxlength: 200, placeholder: t("wo.part_name")}),
      el("input", {name: "quantity", type: "number", min: 1, value: 1, required: true, "aria-label": t("wo.quantity")}),
      el("button", {type: "submit", class: "small"}, t("wo.add_part")));
    partForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", `/work-orders/${d.id}/parts`,
          {name: partForm.elements.name.value.trim(), quantity: Number(partForm.elements.quantity.value)});
        await load();
      } catch (error) { toastError(error); }
    });
    // a preventive visit's checklist: the technician ticks each item; resolve needs them all
    const tick = async (item, done) => {
      try { await api("POST", `/work-orders/${d.id}/checklist`, {ticks: {[item.code]: done}}); await load(); }
      catch (error) { toastError(error); }
    };
    const checklist = d.checklist && d.checklist.length ? el("div", {class: "checklist"},
      el("h4", {}, t("wo.checklist", {done: d.checklist.filter((i) => i.done).length, all: d.checklist.length})),
      el("ul", {}, d.checklist.map((i) => el("li", {dataset: {item: i.code}},
        el("label", {}, el("input", {type: "checkbox", checked: i.done, disabled: !working,
          onchange: (ev) => tick(i, ev.target.checked)}),
          ` ${i.code} ${lang === "zh" ? i.text_zh : i.text_en}`,
          i.done_by ? el("span", {class: "sub"}, ` — ${i.done_by} ${time(i.done_at)}`) : null))))) : null;
    return el("div", {class: "detail"},
      d.description ? el("p", {}, d.description) : null,
      checklist,
      el("div", {}, el("h4", {}, t("wo.notes")),
        el("ul", {class: "notes"}, d.notes.map((n) => el("li", {}, `${time(n.at)} ${n.author}: ${n.text}`))),
        d.state !== "closed" ? noteForm : null),
      role !== "resident" ? el("div", {}, el("h4", {}, t("wo.parts")),
        el("ul", {class: "parts"}, d.parts.map((p) => el("li", {}, `${p.name} × ${p.quantity}`))),
        working ? partForm : null) : null,
      el("div", {}, el("h4", {}, t("wo.history")),
        el("ul", {}, d.history.map((h) => el("li", {},
          `${time(h.at)} ${h.actor_text}: ${word("wo.state.", h.to_state)}${h.note ? " — " + h.note : ""}`)))));
  }

  function card(o, d) {
    const device = o.device_id ? devices.get(o.device_id) : null;
    return el("article", {class: `card order ${o.priority}`, dataset: {order: o.id, state: o.state}},
      el("div", {class: "building-head"}, el("h3", {}, o.title),
        pill(word("wo.priority.", o.priority), PRIORITY_KIND[o.priority]),
        o.overdue ? pill(t("wo.overdue"), "bad") : null,
        pill(word("wo.state.", o.state), STATE_KIND[o.state])),
      el("div", {class: "sub"}, [`#${o.id}`, word("wo.kind.", o.kind), device, o.fault_code,
        time(o.created_at), t("wo.due", {time: time(o.due_at)}),
        o.assignee ? t("wo.assignee", {who: o.assignee}) : t("wo.unassigned")].filter(Boolean).join(" · ")),
      actions(o), d ? detail(d) : null);
  }

  async function load() {
    const state = filter ? filter.value : "";
    const page = await api("GET", `/work-orders?limit=100${state ? "&state=" + state : ""}`);
    const items = state ? page.items : page.items.filter((o) => o.state !== "closed" || role === "resident");
    const details = new Map(await Promise.all(items.filter((o) => open.has(o.id))
      .map(async (o) => [o.id, await api("GET", `/work-orders/${o.id}`)])));
    box.replaceChildren(...(items.length ? items.map((o) => card(o, details.get(o.id)))
      : [el("p", {class: "muted"}, role === "resident" ? t("repairs.none") : t("wo.none"))]));
  }

  async function start() {
    if (role !== "resident") {
      const list = await api("GET", "/devices");
      for (const d of list.items) devices.set(d.id, d.name);
    }
    await load();
  }

  const form = document.getElementById("repair-form");  // residents
  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      document.getElementById("repair-error").textContent = "";
      try {
        await api("POST", "/work-orders", {title: form.elements.title.value.trim(),
          description: form.elements.description.value.trim()});
        toast(t("repairs.sent"));
        form.reset();
        await load();
      } catch (error) { document.getElementById("repair-error").textContent = error.message; }
    });
  }
  if (filter) filter.addEventListener("change", () => load().catch(toastError));
  const reload = Lintel.debounce(() => load().catch(toastError), 200);
  Lintel.live({work_orders: (o) => {
    if (o.event === "assign" && o.assignee_id === me) toast(t("wo.new", {title: o.title}));
    reload();
  }}, () => start().catch(toastError));
})();
