// What the manager's lists share: a search / filter / paging bar over an API list, CSV export
// of everything the filters match, a confirmation dialog before an action that cannot be
// taken back, and a dialog that collects a form (and stays open on a refusal, showing why).
"use strict";

const Lists = (() => {
  const {t, el, api} = Lintel;

  function dialogShell(title, ...content) {
    const dialog = el("dialog", {class: "form-dialog"},
      el("form", {method: "dialog", class: "stacked"}, el("h3", {}, title), ...content));
    document.body.append(dialog);
    dialog.addEventListener("close", () => dialog.remove());
    return dialog;
  }

  // Asks before acting; resolves true only when the person confirms.
  function confirm(title, text, {ok = null, danger = false} = {}) {
    const dialog = dialogShell(title, el("p", {}, text),
      el("menu", {}, el("button", {value: "cancel", formnovalidate: true, "data-testid": "confirm-cancel"}, t("common.cancel")),
        el("button", {value: "ok", class: danger ? "danger" : "primary", "data-testid": "confirm-ok"},
          ok ?? t("common.confirm"))));
    dialog.id = "confirm-dialog";
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true}));
  }

  // One form field: {name, label, type, value, options: [[value, label, asIs]], required, ...};
// `asIs`: the label is a name people gave (a group's), shown untranslated.
  function field(f) {
    const common = {name: f.name, required: f.required || false, maxlength: f.maxlength, pattern: f.pattern,
      placeholder: f.placeholder, min: f.min, max: f.max, autocomplete: f.autocomplete ?? "off",
      "data-testid": f.testid};
    let input;
    if (f.type === "select") {
      input = el("select", common, f.options.map(([value, label, asIs]) =>
        el("option", {value, selected: String(value) === String(f.value ?? ""), translate: asIs ? "no" : null}, label)));
    } else if (f.type === "checks") {
      const chosen = new Set((f.value || []).map(String));
      return el("fieldset", {}, el("legend", {}, f.label), el("div", {class: "checks"},
        f.options.map(([value, label, asIs]) => el("label", {translate: asIs ? "no" : null}, el("input", {type: "checkbox", name: f.name, value,
          checked: chosen.has(String(value))}), ` ${label}`))));
    } else if (f.type === "textarea") {
      input = el("textarea", {...common, rows: 3}, f.value ?? "");
    } else {
      input = el("input", {...common, type: f.type || "text", value: f.value ?? ""});
    }
    return el("label", {}, f.label, input, f.extra ?? null);
  }

  function values(form, fields) {
    const out = {};
    for (const f of fields) {
      if (f.type === "checks") {
        out[f.name] = [...form.querySelectorAll(`input[name="${f.name}"]:checked`)].map((c) => c.value);
      } else {
        const value = form.elements[f.name].value.trim();
        out[f.name] = value === "" ? null : value;
      }
    }
    return out;
  }

  // A form in a dialog; `submit(values)` does the work and may throw (an API refusal): the
  // dialog stays open with the reason. Resolves to submit's result, or null if cancelled.
  function formDialog(title, fields, submit, {ok = null, id = null} = {}) {
    const error = el("div", {class: "error-text", role: "alert"});
    const dialog = dialogShell(title, el("div", {class: "form-grid"}, fields.map(field)), error,
      el("menu", {}, el("button", {type: "button", value: "cancel", "data-testid": "dialog-cancel",
        onclick: () => dialog.close("cancel")}, t("common.cancel")),
        el("button", {type: "submit", class: "primary", "data-testid": "dialog-ok"}, ok ?? t("common.save"))));
    if (id) dialog.id = id;
    const form = dialog.querySelector("form");
    form.method = "";
    return new Promise((resolve) => {
      let result = null;
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          result = await submit(values(form, fields), form);
          dialog.close("ok");
        } catch (e) {
          error.textContent = problem(e);
        } finally { button.disabled = false; }
      });
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? result ?? true : null), {once: true});
      dialog.showModal();
    });
  }

  // An API refusal in the reader's language where the console knows the field's name.
  function problem(error) {
    const detail = error.body && Array.isArray(error.body.detail) ? error.body.detail : null;
    if (!detail) return error.message;
    // the hub's own words for the field and the reason, in the reader's language
    return detail.map((p) => p.message ?? `${Lintel.word("field.", p.field)}: ${p.reason}`).join("; ");
  }

  // CSV text (RFC 4180, with a BOM so that spreadsheet programs read Chinese as UTF-8).
  function csv(header, rows) {
    const cell = (v) => {
      const s = v === null || v === undefined ? "" : String(v);
      return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return "\ufeff" + [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
  }

  function download(filename, text) {
    const url = URL.createObjectURL(new Blob([text], {type: "text/csv;charset=utf-8"}));
    const a = el("a", {href: url, download: filename});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // A paged list over `path` (an API list answering {items, total}): `query()` gives the
  // filters, `show(items)` fills the table; the pager says where we are and moves.
  function paged({path, query, show, pager, count, size = 50}) {
    let offset = 0;
    let total = 0;
    const prev = el("button", {type: "button", class: "small", "data-testid": "page-prev",
      onclick: () => { offset = Math.max(0, offset - size); load().catch(Lintel.toastError); }}, t("list.prev"));
    const next = el("button", {type: "button", class: "small", "data-testid": "page-next",
      onclick: () => { offset += size; load().catch(Lintel.toastError); }}, t("list.next"));
    const where = el("span", {class: "muted", "data-testid": "page-where"});
    pager.replaceChildren(prev, where, next);

    function url(limit, from) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query())) if (v !== null && v !== undefined && v !== "") params.set(k, v);
      params.set("limit", limit);
      params.set("offset", from);
      return `${path}?${params}`;
    }

    // `pending`: the first page, asked for early (beside the page's other lists)
    async function load(pending = null) {
      const page = await (pending ?? api("GET", url(size, offset)));
      total = page.total;
      if (offset && offset >= total) { offset = Math.max(0, Math.floor((total - 1) / size) * size); return load(); }
      show(page.items);
      const last = Math.min(offset + page.items.length, total);
      where.textContent = total ? t("list.where", {from: offset + 1, to: last, total}) : t("list.where_none");
      prev.disabled = offset === 0;
      next.disabled = last >= total;
      if (count) count.textContent = total;
      return page;
    }

    // Every row the filters match, page by page (the API's pages are at most 5,000).
    async function all() {
      const items = [];
      for (let from = 0; ; from += 5000) {
        const page = await api("GET", url(5000, from));
        items.push(...page.items);
        if (items.length >= page.total || !page.items.length) return items;
      }
    }

    return {load, all, first: () => { offset = 0; return load(); }, firstUrl: () => url(size, 0)};
  }

  // A search box and filters that reload the list (the search after a pause in typing).
  function watch(inputs, reload) {
    const soon = Lintel.debounce(() => reload().catch(Lintel.toastError), 250);
    for (const input of inputs) {
      if (!input) continue;
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", soon);
    }
  }

  // The CSV import forms of a page (`.import-form`, `data-kind` units / residents / vehicles):
  // check only or write, all rows or none; a refusal lists each problem by line and column.
  function importForms(reload) {
    for (const form of document.querySelectorAll(".import-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const out = form.querySelector(".import-result");
        const body = new FormData();
        body.append("file", form.elements.file.files[0]);
        const dry = form.elements.dry_run.checked;
        try {
          const sites = await api("GET", "/sites");
          const site = sites.items.length ? sites.items[0].id : null;
          const done = await api("POST",
            `/import/${form.dataset.kind}?site_id=${encodeURIComponent(site)}&dry_run=${dry}`, body);
          out.replaceChildren(el("div", {class: "notice ok"}, dry
            ? t("manage.import_checked", {rows: done.rows})
            : t("manage.import_ok", {rows: done.rows, created: done.created})));
          if (!dry) reload().catch(Lintel.toastError);
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

  return {confirm, formDialog, problem, csv, download, paged, watch, field, importForms};
})();
