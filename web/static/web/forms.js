// Form fields with their labels, hints and error slots, and the API's own field messages put beside the
// field they name (a 400 names each field; a sync result's `errors` do the same per item).

import { h, uniqueId } from "./dom.js";
import { t } from "./i18n.js";

function errorSlot(id) {
  return h("p", { id, class: "field-error", hidden: true });
}

/** A labelled input: {label, name, type, value, hint, autocomplete, required, ...attrs}. */
export function field({ label, name, hint, ...attrs }) {
  const id = uniqueId(name);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h("input", { id, name, ...attrs, "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") });
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, label),
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
    input,
    errorSlot(errorId),
  );
}

/** A labelled <select>: options [{value, label}]. */
export function selectField({ label, name, options, value, hint }) {
  const id = uniqueId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, label),
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
    h(
      "select",
      { id, name, "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") },
      options.map((option) => h("option", { value: option.value, selected: option.value === value }, option.label)),
    ),
    errorSlot(errorId),
  );
}

/** Radio buttons or checkboxes in a fieldset: options [{value, label, description?}]. */
export function choiceGroup({ legend, name, options, type = "radio", checked = [], hint, compact = false }) {
  const id = uniqueId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const selected = new Set((Array.isArray(checked) ? checked : [checked]).map(String));
  return h(
    "fieldset",
    { class: `field choices${compact ? " compact" : ""}`, dataset: { field: name },
      "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") },
    h("legend", {}, legend),
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
    h(
      "div",
      { class: "choice-list" },
      options.map((option) => {
        const optionId = uniqueId(`${name}-option`);
        return h(
          "div",
          { class: "choice" },
          h("input", { type, id: optionId, name, value: option.value, checked: selected.has(String(option.value)) }),
          h("label", { for: optionId }, option.label),
        );
      }),
    ),
    errorSlot(errorId),
  );
}

export function formError() {
  return h("div", { class: "form-error", role: "alert", hidden: true });
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function messages(value) {
  if (Array.isArray(value)) return value.flatMap(messages);
  if (value && typeof value === "object") return Object.values(value).flatMap(messages);
  return value === undefined || value === null ? [] : [String(value)];
}

/** Show an API error body in the form: each field's message beside it, the rest at the top. */
export function showErrors(form, body) {
  clearErrors(form);
  const general = [];
  let first = null;
  for (const [key, value] of Object.entries(body || {})) {
    const base = key.replace(/\[\d+\].*$/, "").replace(/\..*$/, "");
    const container = form.querySelector(`[data-field="${CSS.escape(key)}"]`) || form.querySelector(`[data-field="${CSS.escape(base)}"]`);
    if (!container || key === "detail" || key === "non_field_errors") {
      general.push(...messages(value));
      continue;
    }
    const slot = container.querySelector(".field-error");
    slot.textContent = [slot.textContent, ...messages(value)].filter(Boolean).join(" ");
    slot.hidden = false;
    for (const input of container.querySelectorAll("input, select, textarea")) input.setAttribute("aria-invalid", "true");
    first ||= container.querySelector("input, select, textarea");
  }
  const top = form.querySelector(".form-error");
  if (general.length && top) {
    top.textContent = general.join(" ");
    top.hidden = false;
  } else if (!general.length && first && top) {
    top.textContent = t("form.fix_fields");
    top.hidden = false;
  }
  (first || top)?.focus?.();
  if (!first && top) {
    top.setAttribute("tabindex", "-1");
    top.focus();
  }
}

export function formValues(form) {
  const data = new FormData(form);
  const values = {};
  for (const [key, value] of data.entries()) {
    if (key in values) values[key] = [].concat(values[key], value);
    else values[key] = value;
  }
  return values;
}

export function allValues(form, name) {
  return new FormData(form).getAll(name);
}
