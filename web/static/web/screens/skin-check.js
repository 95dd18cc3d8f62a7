// The skin self-check: a few plain questions from the labels' warnings. An urgent answer (signs of eczema
// herpeticum: NICE CG57) says plainly to seek medical care today; any sign is logged `concerning` and
// reaches the care team at once.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { choiceGroup, clearErrors, formError, showErrors } from "../forms.js";
import { saveLog, tp } from "../state.js";

// Each sign: urgent ones need same-day care (CLINICAL.md, "urgent signs"); the others go to the care team.
const SIGNS = [
  { key: "blisters", urgent: true },
  { key: "fever", urgent: true },
  { key: "infected", urgent: false },
  { key: "lymph_nodes", urgent: false },
  { key: "new_spot", urgent: false },
];

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
    const urgent = found.some((sign) => sign.urgent);
    const saved = await saveLog("skin_checks", {
      performed_at: new Date().toISOString(),
      performed_by: "self",
      concerning: found.length > 0,
    });
    if (saved.status === "invalid") return showErrors(form, saved.errors);
    form.hidden = true;
    const parts = [];
    if (urgent) {
      parts.push(h("div", { class: "notice urgent", role: "alert" },
        h("h2", {}, t("skin.urgent_heading")), h("p", {}, tp("skin.urgent_text"))));
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
