// The skin self-check: the API's structured questions (the labels' warnings), sent as answers. An urgent
// answer (signs of eczema herpeticum, or a fever with a spreading rash: NICE CG57) says plainly to seek
// medical care today, in the server's own words when it answered, and reaches the care team at once.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { choiceGroup, clearErrors, formError, showErrors } from "../forms.js";
import { saveLog, tp } from "../state.js";

// Each question is an answer field of POST skin-checks/ (API: skin checks), except `infected`, which the
// API has no field for: a yes to it marks the check concerning.
const SIGNS = [
  { key: "blisters_or_erosions" },
  { key: "fever" },
  { key: "spreading_rash" },
  { key: "new_or_changing_spot" },
  { key: "sore_not_healing" },
  { key: "swollen_lymph_nodes" },
  { key: "infected", local: true },
];

// The server decides what is urgent (tracking/rules.py, skin_check_urgent_signs) and says so in `advice`.
// Offline there is no answer yet, and the person must still be told at once: this mirrors that rule, and
// tests/web/test_skin_check_browser.py checks the two agree.
function urgentOffline(answers) {
  return answers.blisters_or_erosions === true || (answers.fever === true && answers.spreading_rash === true);
}

export async function render(main) {
  const result = h("div", { class: "result" });
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    SIGNS.map((sign) => choiceGroup({ legend: tp(`skin.q.${sign.key}`), name: sign.key, options: [
      { value: "yes", label: t("common.yes") }, { value: "no", label: t("common.no") },
    ] })),
    h("button", { type: "submit", class: "button primary" }, t("skin.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const unanswered = SIGNS.filter((sign) => !data.get(sign.key));
    if (unanswered.length) {
      return showErrors(form, Object.fromEntries(unanswered.map((sign) => [sign.key, [t("skin.answer_this")]])));
    }
    const found = SIGNS.filter((sign) => data.get(sign.key) === "yes");
    const answers = Object.fromEntries(
      SIGNS.filter((sign) => !sign.local).map((sign) => [sign.key, data.get(sign.key) === "yes"]));
    const saved = await saveLog("skin_checks", {
      performed_at: new Date().toISOString(),
      performed_by: "self",
      concerning: found.length > 0,
      ...answers,
    });
    if (saved.status === "invalid") return showErrors(form, saved.errors);
    form.hidden = true;
    const parts = [];
    if (saved.advice || urgentOffline(answers)) {
      parts.push(h("div", { class: "notice urgent", role: "alert" },
        h("h2", {}, t("skin.urgent_heading")), h("p", {}, saved.advice || tp("skin.urgent_text"))));
    } else if (found.length) {
      parts.push(h("div", { class: "notice warning", role: "status" },
        h("h2", {}, t("skin.concerning_heading")), h("p", {}, tp("skin.concerning_text"))));
    } else {
      parts.push(h("div", { class: "notice success", role: "status" }, h("p", {}, tp("skin.clear_text"))));
    }
    if (found.length) parts.push(h("p", {}, saved.status === "waiting" ? t("skin.team_later") : t("skin.team_told")));
    parts.push(h("p", {}, h("a", { href: "#/today" }, t("common.back_today"))));
    result.replaceChildren(...parts);
    result.setAttribute("tabindex", "-1");
    result.focus();
  });
  main.append(h("h1", {}, tp("skin.heading")), h("p", {}, tp("skin.intro")), form, result);
}
