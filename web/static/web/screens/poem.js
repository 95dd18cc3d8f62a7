// The weekly POEM (Patient-Oriented Eczema Measure, University of Nottingham): seven questions about the
// past week, each answered by a number of days; the API scores it and gives the band.

import { h } from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { choiceGroup, clearErrors, formError, showErrors } from "../forms.js";
import { saveLog, tp } from "../state.js";

const QUESTIONS = 7;
// The bands as the API names them, with the score range each covers (CLINICAL.md, POEM).
export const BANDS = {
  clear_or_almost_clear: [0, 2],
  mild: [3, 7],
  moderate: [8, 16],
  severe: [17, 24],
  very_severe: [25, 28],
};

export function bandOf(score) {
  return Object.entries(BANDS).find(([, [low, high]]) => score >= low && score <= high)?.[0] || null;
}

export function bandText(band) {
  const [low, high] = BANDS[band];
  return t("poem.band_range", { band: t(`poem.band.${band}`), low, high });
}

export async function render(main) {
  const options = [0, 1, 2, 3, 4].map((value) => ({ value, label: t(`poem.answer.${value}`) }));
  const result = h("div", { class: "result", role: "status" });
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    Array.from({ length: QUESTIONS }, (_, index) =>
      h("div", { dataset: { field: `answers[${index}]` } },
        choiceGroup({ legend: `${formatNumber(index + 1)}. ${tp(`poem.q${index + 1}`)}`, name: `q${index + 1}`, options }))),
    h("button", { type: "submit", class: "button primary" }, t("poem.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const answers = Array.from({ length: QUESTIONS }, (_, index) => {
      const value = data.get(`q${index + 1}`);
      return value === null ? null : Number(value);
    });
    if (answers.filter((answer) => answer === null).length > 1) {
      return showErrors(form, { detail: t("poem.answer_all") });
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const saved = await saveLog("poem", { recorded_at: new Date().toISOString(), answers });
    button.disabled = false;
    if (saved.status === "invalid") return showErrors(form, saved.errors);
    // One unanswered question counts 0 (CLINICAL.md): the same sum the API gives back.
    const score = answers.reduce((total, answer) => total + (answer || 0), 0);
    const band = bandOf(score);
    result.replaceChildren(
      h("h2", {}, t("poem.result_heading")),
      h("p", { class: "score" }, t("poem.score", { score })),
      h("p", {}, h("strong", {}, bandText(band))),
      h("p", {}, tp(`poem.meaning.${band}`)),
      saved.status === "waiting" ? h("p", { class: "hint" }, t("save.waiting")) : null,
      h("p", {}, h("a", { href: "#/today" }, t("common.back_today"))),
    );
    form.hidden = true;
    result.setAttribute("tabindex", "-1");
    result.focus();
  });
  main.append(h("h1", {}, tp("poem.heading")), h("p", {}, tp("poem.intro")), form, result,
    h("p", { class: "hint" }, t("poem.licence")));
}
