// More: whose record (a caregiver's children), the language, and signing out.

import { h } from "../dom.js";
import { LANGUAGES, language, t } from "../i18n.js";
import { choiceGroup } from "../forms.js";
import { waiting } from "../queue.js";
import { caregiving, chooseLanguage, choosePatient, go, signOutHere, state } from "../state.js";
import { pushStatus, sendTest, turnOff, turnOn } from "../push.js";

export async function render(main) {
  main.append(h("h1", {}, t("more.heading")));
  const patients = state.me?.patients || [];
  if (caregiving() && patients.length) {
    const form = h("form", { class: "stack" },
      choiceGroup({ legend: t("more.whose_record"), name: "patient", checked: state.patient?.id,
        options: patients.map((patient) => ({ value: patient.id, label: patient.first_name })) }),
      h("button", { type: "submit", class: "button primary" }, t("more.switch")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      choosePatient(new FormData(form).get("patient"));
      go("today");
    });
    main.append(h("section", { class: "card", "aria-labelledby": "children-heading" },
      h("h2", { id: "children-heading" }, t("more.children")), form));
  }
  const languages = h("form", { class: "stack" },
    choiceGroup({ legend: t("more.language"), name: "language", checked: language(),
      options: Object.entries(LANGUAGES).map(([code, info]) => ({ value: code, label: info.name })) }),
    h("button", { type: "submit", class: "button secondary" }, t("more.language_save")));
  for (const [index, label] of [...languages.querySelectorAll("label")].entries()) {
    label.setAttribute("lang", Object.keys(LANGUAGES)[index]);
  }
  languages.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = new FormData(languages).get("language");
    await chooseLanguage(chosen);
  });
  main.append(h("section", { class: "card", "aria-labelledby": "language-heading" },
    h("h2", { id: "language-heading" }, t("more.language_heading")), languages));

  main.append(await remindersCard());

  const queued = (await waiting()).length;
  main.append(h("section", { class: "card", "aria-labelledby": "account-heading" },
    h("h2", { id: "account-heading" }, t("more.account")),
    state.me ? h("p", {}, t("more.signed_in_as", { email: state.me.email })) : null,
    queued ? h("p", { class: "notice warning" }, t("more.sign_out_waiting", { count: queued })) : null,
    h("button", { type: "button", class: "button secondary", onclick: () => signOutHere() }, t("more.sign_out"))));
}

/** Reminders on this phone (Web Push), and the inbox for those without. */
async function remindersCard() {
  const card = h("section", { class: "card", "aria-labelledby": "reminders-heading" });
  const draw = (status, problem, notice) => {
    const button = status === "on"
      ? h("button", { type: "button", class: "button secondary", onclick: () => change(turnOff) }, t("push.turn_off"))
      : status === "off"
        ? h("button", { type: "button", class: "button primary", onclick: () => change(turnOn) }, t("push.turn_on"))
        : null;
    const test = status === "on"
      ? h("button", { type: "button", id: "push-test", class: "button secondary", onclick: () => sendOne() },
        t("push.send_test"))
      : null;
    card.replaceChildren(
      h("h2", { id: "reminders-heading" }, t("push.heading")),
      h("p", { id: "push-status", dataset: { status } }, t(`push.status.${status}`)),
      problem ? h("p", { class: "field-error", role: "alert" }, problem) : null,
      notice ? h("p", { id: "push-test-sent", class: "notice", role: "status" }, notice) : null,
      test,
      button,
      h("p", {}, h("a", { href: "#/inbox" }, t("push.inbox_link"))),
    );
  };
  // "Send me a test": the server pushes a harmless test reminder to this phone; the answer is said, not shown
  // by colour alone, and the status line stays as it is.
  const sendOne = async () => {
    for (const button of card.querySelectorAll("button")) button.disabled = true;
    let result;
    try {
      result = await sendTest();
    } catch {
      result = "failed";
    }
    const status = await pushStatus();
    if (result === "sent") draw(status, null, t("push.test.sent"));
    else draw(status, t(result === "refused" ? "push.test.refused" : "push.failed"));
    const said = card.querySelector("#push-test-sent, [role=alert]");
    said?.setAttribute("tabindex", "-1");
    said?.focus();
  };
  const change = async (action) => {
    for (const button of card.querySelectorAll("button")) button.disabled = true;
    try {
      draw(await action());
    } catch {
      draw(await pushStatus(), t("push.failed"));
    }
    card.querySelector("#push-status")?.setAttribute("tabindex", "-1");
    card.querySelector("#push-status")?.focus();
  };
  draw(await pushStatus());
  return card;
}
