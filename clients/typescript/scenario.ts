/**
 * What a mobile app does with the Integration Journal API, written against the client that
 * openapi-typescript + openapi-fetch generate from openapi/openapi.json.
 *
 * `make clients` generates `@api/schema` (schema.d.ts) into a temporary folder and type-checks this
 * file against it with `tsc --noEmit --strict`. Every type of API data comes from that generated
 * file: no casts, no non-null assertions, no `any`, no hand-written shapes. A field the server
 * always sends is used directly; when this stops compiling, the spec has drifted from what the
 * server sends (or the app from the spec).
 *
 * It also runs (Node 20): API_BASE_URL=http://127.0.0.1:5000 npx tsx scenario.ts
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { timeZoneValues, type components, type operations, type paths } from "@api/schema";

type Schemas = components["schemas"];
type Api = Client<paths>;
type FieldErrors = Schemas["ValidationProblem"]["errors"];
type Change = Schemas["Change"];

/** The names of the response headers the spec documents for one response: its own keys, without
 * the catch-all `[name: string]: unknown` that openapi-typescript adds to every headers object. */
type DocumentedHeader<Headers> = keyof { [Name in keyof Headers as string extends Name ? never : Name]: true } & string;

/** Read a response header by a name the spec documents for that response: a typo, or a header
 * the spec leaves out, does not compile. */
function header<Headers>(response: Response, name: DocumentedHeader<Headers>): string | null {
  return response.headers.get(name);
}

/** The app's log line: a tagged template that takes no `undefined` and no `null`, so every
 * field it shows must be one the spec promises (or one the app has checked). */
function say(text: TemplateStringsArray, ...values: (string | number | boolean)[]): void {
  console.log(text.reduce((line, part, index) => `${line}${values[index - 1] ?? ""}${part}`));
}

/** A nullable field for a log line: the server always sends it, null when there is nothing. */
function shown(value: string | number | null, none = "none"): string | number {
  return value === null ? none : value;
}

class ApiError extends Error {
  constructor(what: string, response: Response, problem: Schemas["Problem"] | undefined) {
    const detail = problem ? `${problem.title}: ${problem.detail} (${problem.type})` : "no problem body";
    super(`${what}: HTTP ${response.status}, ${detail}`);
  }
}

/** Tokens of one signed-in device. The middleware sends the access token, except to the refresh
 * endpoint, which takes the refresh token in its place. */
class Tokens {
  private pair: Schemas["TokenPair"] | undefined;
  private refreshAt = 0;

  store(pair: Schemas["TokenPair"]): void {
    this.pair = pair;
    // Refresh a minute early; `expires_in` is in seconds.
    this.refreshAt = Date.now() + Math.max(pair.expires_in - 60, 0) * 1000;
  }

  bearerFor(schemaPath: string): string | undefined {
    if (!this.pair) return undefined;
    return schemaPath === "/v1/auth/refresh" ? this.pair.refresh_token : this.pair.access_token;
  }

  get dueForRefresh(): boolean {
    return this.pair !== undefined && Date.now() >= this.refreshAt;
  }
}

function connect(baseUrl: string, tokens: Tokens): Api {
  const api = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request, schemaPath }) {
      const token = tokens.bearerFor(schemaPath);
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  api.use(auth);
  return api;
}

// ---------------------------------------------------------------- accounts and tokens

/** The device's zone when the server accepts it (the spec lists every zone it does), else UTC. */
function deviceTimeZone(): Schemas["TimeZone"] {
  const device = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return timeZoneValues.find((zone) => zone === device) ?? "UTC";
}

async function register(api: Api, email: string, role: Schemas["Registration"]["role"], name: string): Promise<Schemas["User"]> {
  const { data, error, response } = await api.POST("/v1/auth/register", {
    body: {
      email,
      password: "correct horse battery staple",
      display_name: name,
      role,
      timezone: deviceTimeZone(),
    },
  });
  if (error) throw new ApiError("register", response, error);
  say`registered ${data.role} ${data.display_name} (${data.id}), created ${data.created_at}`;
  return data;
}

async function logIn(api: Api, tokens: Tokens, email: string): Promise<void> {
  const { data, error, response } = await api.POST("/v1/auth/login", {
    body: { email, password: "correct horse battery staple" },
  });
  if (error) throw new ApiError("log in", response, error);
  tokens.store(data);
  say`signed in: ${data.token_type} token for ${data.expires_in} s, refresh token ${data.refresh_token.length} chars`;
}

async function refresh(api: Api, tokens: Tokens): Promise<void> {
  const { data, error, response } = await api.POST("/v1/auth/refresh");
  if (error) throw new ApiError("refresh", response, error);
  tokens.store(data);
  say`refreshed: new access token (${data.access_token.length} chars) for ${data.expires_in} s`;
}

async function me(api: Api): Promise<Schemas["User"]> {
  const { data, error, response } = await api.GET("/v1/me");
  if (error) throw new ApiError("me", response, error);
  say`me: ${data.display_name} (${data.role}, ${data.id}) in ${data.timezone}, version ${data.version}`;
  return data;
}

// ---------------------------------------------------------------- the journal

async function recordSessionDay(api: Api): Promise<{ session: Schemas["Session"]; entry: Schemas["Entry"] }> {
  const started = new Date(Date.now() - 3 * 3600 * 1000).toISOString();
  const created = await api.POST("/v1/sessions", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: {
      started_at: started,
      medicine: "ketamine",
      route: "iv",
      dose_mg: 35,
      setting: "clinic",
      duration_minutes: 40,
      intention: "Meet the grief with curiosity.",
      side_effects: ["dissociation"],
      vitals: [{ taken_at: started, systolic: 128, diastolic: 82, heart_rate: 74 }],
    },
  });
  if (created.error) throw new ApiError("create session", created.response, created.error);
  const session = created.data;
  say`session ${session.id}: ${session.medicine} ${shown(session.route, "route not given")}, ${shown(session.dose_mg, "?")} mg`;
  for (const vitals of session.vitals) say`  vitals at ${vitals.taken_at}: ${shown(vitals.systolic, "-")}/${shown(vitals.diastolic, "-")}`;

  const feelings: Schemas["Emotion"][] = ["grateful", "tender", "floating"];
  const wrote = await api.POST("/v1/entries", {
    body: {
      body: "Felt held; the old story about my father softened.",
      title: "Integration, day 0",
      session_id: session.id,
      kind: "insight",
      emotions: feelings,
      tags: ["family"],
      visibility: "care_team",
    },
  });
  if (wrote.error) throw new ApiError("create entry", wrote.response, wrote.error);
  const entry = wrote.data;
  const location = header<operations["createEntry"]["responses"][201]["headers"]>(wrote.response, "Location");
  say`entry ${entry.id} for session ${shown(entry.session_id)}: ${entry.kind}, ${entry.visibility}, at ${location ?? "?"}`;
  say`  emotions ${entry.emotions.join(", ")}; acknowledged ${shown(entry.acknowledged_at, "not yet")}`;
  return { session, entry };
}

/** The plan the session's follow-ups came from, and a check-in that completes the mood one. */
async function followThePlan(api: Api, session: Schemas["Session"]): Promise<Schemas["Mood"]> {
  const plan = await api.GET("/v1/me/integration-plan");
  if (plan.error) throw new ApiError("plan", plan.response, plan.error);
  say`plan version ${plan.data.version} (${plan.data.is_default ? "default" : "own"}): ${plan.data.steps.length} steps`;
  const listed = await api.GET("/v1/follow-ups", { params: { query: { session_id: session.id, limit: 50 } } });
  if (listed.error) throw new ApiError("follow-ups", listed.response, listed.error);
  for (const followUp of listed.data.items) {
    say`  follow-up ${followUp.kind} ${shown(followUp.instrument, "")} due ${followUp.due_at}, done ${shown(followUp.completed_at, "not yet")}`;
  }
  const moodStep = listed.data.items.find((followUp) => followUp.kind === "mood");
  if (moodStep === undefined) throw new Error("the default plan has a mood check-in");
  const { data, error, response } = await api.POST("/v1/moods", {
    body: { mood: 6, timezone: deviceTimeZone(), follow_up_id: moodStep.id },
  });
  if (error) throw new ApiError("check in for the follow-up", response, error);
  say`mood ${data.id} completes follow-up ${moodStep.id}`;
  return data;
}

async function checkIn(api: Api): Promise<{ mood: Schemas["Mood"]; etag: string }> {
  const { data, error, response } = await api.POST("/v1/moods", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: {
      mood: 7,
      anxiety: 3,
      energy: 6,
      sleep_hours: 7.5,
      emotions: ["hopeful", "calm"],
      note: "Lighter than yesterday.",
      timezone: deviceTimeZone(),
    },
  });
  if (error) throw new ApiError("check in", response, error);
  const etag = header<operations["createMood"]["responses"][201]["headers"]>(response, "ETag");
  if (etag === null) throw new ApiError("check in: no ETag", response, undefined);
  say`mood ${data.id}: ${data.mood}/10 at ${data.recorded_at}, version ${data.version}, ETag ${etag}`;
  return { mood: data, etag };
}

async function logPractice(api: Api): Promise<Schemas["Practice"]> {
  const { data, error, response } = await api.POST("/v1/practices", {
    body: {
      practice: "breathwork",
      performed_at: new Date().toISOString(),
      duration_minutes: 12,
      intensity: "low",
      mood_before: 5,
      mood_after: 7,
    },
  });
  if (error) throw new ApiError("log practice", response, error);
  const lift = data.mood_after !== null && data.mood_before !== null ? data.mood_after - data.mood_before : 0;
  say`practice ${data.id}: ${data.practice} (${shown(data.intensity, "intensity not given")}), mood +${lift}`;
  return data;
}

async function addSupportPerson(api: Api): Promise<Schemas["Contact"]> {
  const { data, error, response } = await api.POST("/v1/contacts", {
    body: { name: "Sam", relationship: "sitter", phone: "+1 555 0100", is_session_support: true },
  });
  if (error) throw new ApiError("add contact", response, error);
  say`contact ${data.id}: ${data.name} (${data.relationship}), session support ${data.is_session_support ? "yes" : "no"}`;
  return data;
}

async function takePhq9(api: Api, session: Schemas["Session"]): Promise<Schemas["AssessmentCreated"]> {
  const { data, error, response } = await api.POST("/v1/assessments", {
    body: { instrument: "phq9", answers: [1, 1, 2, 1, 0, 1, 1, 0, 1], session_id: session.id },
  });
  if (error) throw new ApiError("PHQ-9", response, error);
  say`PHQ-9 ${data.id}: score ${data.score} (${shown(data.severity, "no bands")}) for ${data.answers.length} answers`;
  if (data.crisis_resources) {
    // Item 9 above 0: the answer carries the crisis lines for the profile's country; show them at once.
    for (const line of data.crisis_resources.resources) say`  ${line.name}: call ${shown(line.phone, "-")}, text ${shown(line.sms, "-")}, ${shown(line.url, "")}`;
  }
  return data;
}

/** The cached copy is still good when the server answers 304 to its ETag. */
async function revalidate(api: Api, mood: Schemas["Mood"], etag: string): Promise<Schemas["Mood"]> {
  const { data, error, response } = await api.GET("/v1/moods/{mood_id}", {
    params: { path: { mood_id: mood.id }, header: { "If-None-Match": etag } },
  });
  if (response.status === 304) {
    say`mood ${mood.id} unchanged (304)`;
    return mood;
  }
  if (error) throw new ApiError("revalidate", response, error);
  say`mood ${data.id} changed: version ${data.version}, ETag ${header<operations["getMood"]["responses"][200]["headers"]>(response, "ETag") ?? "?"}`;
  return data;
}

/** Two devices edit the same check-in: the second one's ETag is stale. The 412 carries the record
 * as it is now, so the app can show the conflict at once; it reads the record again only for an
 * ETag to retry with (the 412 sends none). */
async function editOnTwoDevices(api: Api, mood: Schemas["Mood"], etag: string): Promise<Schemas["Mood"]> {
  const phone = await api.PATCH("/v1/moods/{mood_id}", {
    params: { path: { mood_id: mood.id }, header: { "If-Match": etag } },
    body: { note: "Lighter than yesterday; walked by the river." },
  });
  if (phone.error) throw new ApiError("edit on phone", phone.response, phone.error);
  say`phone saved version ${phone.data.version}: ${shown(phone.data.note, "")}`;

  const tablet = await api.PATCH("/v1/moods/{mood_id}", {
    params: { path: { mood_id: mood.id }, header: { "If-Match": etag } },
    body: { mood: 8 },
  });
  if (!tablet.error) return tablet.data;
  if (!("current" in tablet.error)) throw new ApiError("edit on tablet", tablet.response, tablet.error);
  const current = tablet.error.current;
  say`tablet is stale (${tablet.response.status}): server has version ${current.version}, mood ${current.mood}, note ${shown(current.note)}`;

  // Merge: keep the server's note, apply the tablet's mood, against the server's version.
  const fresh = await api.GET("/v1/moods/{mood_id}", { params: { path: { mood_id: current.id } } });
  if (fresh.error) throw new ApiError("re-read", fresh.response, fresh.error);
  const freshTag = header<operations["getMood"]["responses"][200]["headers"]>(fresh.response, "ETag");
  if (freshTag === null) throw new ApiError("re-read: no ETag", fresh.response, undefined);
  const merged = await api.PATCH("/v1/moods/{mood_id}", {
    params: { path: { mood_id: current.id }, header: { "If-Match": freshTag } },
    body: { mood: 8 },
  });
  if (merged.error) throw new ApiError("merge", merged.response, merged.error);
  return merged.data;
}

function fieldMessages(errors: FieldErrors, prefix = ""): string[] {
  const lines: string[] = [];
  for (const [field, value] of Object.entries(errors)) {
    if (Array.isArray(value)) lines.push(...value.map((message) => `${prefix}${field}: ${message}`));
    else lines.push(...fieldMessages(value, `${prefix}${field}.`));
  }
  return lines;
}

/** A form the app failed to check: the 422 names each bad field, nested fields included. */
async function submitBadForm(api: Api): Promise<void> {
  const { error, response } = await api.POST("/v1/moods", {
    body: { mood: 11, emotions: ["calm"], recorded_at: "yesterday" },
  });
  if (!error) throw new Error("the server took a mood of 11");
  if (!("errors" in error)) throw new ApiError("bad form", response, error);
  say`422 with ${error.error_count ?? "all"} problem(s):`;
  for (const line of fieldMessages(error.errors)) say`  ${line}`;
}

// Each page is read by a function of its own: a request inside the paging loop would make
// TypeScript infer the response from a cursor that depends on that response (TS7022).
async function moodsPage(api: Api, since: string, cursor: string | null): Promise<Schemas["MoodPage"]> {
  const { data, error, response } = await api.GET("/v1/moods", {
    params: { query: { from: since, limit: 50, ...(cursor === null ? {} : { cursor }) } },
  });
  if (error) throw new ApiError("list moods", response, error);
  return data;
}

async function allMoods(api: Api, since: string): Promise<Schemas["Mood"][]> {
  const moods: Schemas["Mood"][] = [];
  let cursor: string | null = null;
  do {
    const page = await moodsPage(api, since, cursor);
    moods.push(...page.items);
    cursor = page.next_cursor; // null on the last page
  } while (cursor !== null);
  const average = moods.reduce((sum, mood) => sum + mood.mood, 0) / Math.max(moods.length, 1);
  say`${moods.length} check-ins since ${since}, average ${average.toFixed(1)}`;
  return moods;
}

// ---------------------------------------------------------------- offline sync

/** The device's copy of the journal, kept current by the sync feed. */
class LocalStore {
  readonly sessions = new Map<string, Schemas["Session"]>();
  readonly entries = new Map<string, Schemas["Entry"]>();
  readonly moods = new Map<string, Schemas["Mood"]>();
  readonly contacts = new Map<string, Schemas["Contact"]>();
  readonly practices = new Map<string, Schemas["Practice"]>();
  readonly assessments = new Map<string, Schemas["Assessment"]>();
  readonly safetyEvents = new Map<string, Schemas["SafetyEvent"]>();
  readonly followUps = new Map<string, Schemas["FollowUp"]>();
  cursor: string | null = null;

  apply(change: Change): void {
    // `type` tells which record `data` is; `data` is null for a delete.
    switch (change.type) {
      case "session":
        if (change.data) this.sessions.set(change.id, change.data);
        else this.sessions.delete(change.id);
        if (change.data) say`  session ${change.data.started_at} ${change.data.medicine}`;
        return;
      case "entry":
        if (change.data) this.entries.set(change.id, change.data);
        else this.entries.delete(change.id);
        if (change.data) say`  entry ${change.data.kind}: ${change.data.body.slice(0, 40)}`;
        return;
      case "mood":
        if (change.data) this.moods.set(change.id, change.data);
        else this.moods.delete(change.id);
        if (change.data) say`  mood ${change.data.mood}/10 at ${change.data.recorded_at}`;
        return;
      case "contact":
        if (change.data) this.contacts.set(change.id, change.data);
        else this.contacts.delete(change.id);
        if (change.data) say`  contact ${change.data.name} (${change.data.relationship})`;
        return;
      case "practice":
        if (change.data) this.practices.set(change.id, change.data);
        else this.practices.delete(change.id);
        if (change.data) say`  practice ${change.data.practice} at ${change.data.performed_at}`;
        return;
      case "assessment":
        if (change.data) this.assessments.set(change.id, change.data);
        else this.assessments.delete(change.id);
        if (change.data) say`  ${change.data.instrument} score ${change.data.score}`;
        return;
      case "safety_event":
        if (change.data) this.safetyEvents.set(change.id, change.data);
        else this.safetyEvents.delete(change.id);
        if (change.data) {
          const by = change.data.acknowledgements.map((a) => a.acknowledged_by?.display_name ?? "a former care-team member");
          say`  safety event ${change.data.status}, acknowledged by ${by.length ? by.join(", ") : "nobody yet"}`;
        }
        return;
      case "follow_up":
        // What the phone schedules its own notifications from, offline.
        if (change.data) this.followUps.set(change.id, change.data);
        else this.followUps.delete(change.id);
        if (change.data) say`  follow-up ${change.data.kind} due ${change.data.due_at}, window until ${change.data.window_ends_at}`;
        return;
      default: {
        const unknown: never = change;
        throw new Error(`a change of a kind this app does not know: ${JSON.stringify(unknown)}`);
      }
    }
  }
}

async function sync(api: Api, store: LocalStore): Promise<void> {
  let pages = 0;
  for (;;) {
    const { data, error, response } = await api.GET("/v1/sync", {
      params: { query: { limit: 100, ...(store.cursor === null ? {} : { cursor: store.cursor }) } },
    });
    if (error) throw new ApiError("sync", response, error);
    pages += 1;
    for (const change of data.changes) {
      say`${change.op} ${change.type} ${change.id} v${change.version}`;
      store.apply(change);
    }
    store.cursor = data.next_cursor;
    const more: boolean = data.has_more;
    if (!more) break;
  }
  say`synced in ${pages} page(s): ${store.moods.size} moods, ${store.entries.size} entries, ${store.sessions.size} sessions`;
}

// ---------------------------------------------------------------- the therapist's side

async function invite(therapist: Api): Promise<Schemas["InvitationCreated"]> {
  const { data, error, response } = await therapist.POST("/v1/invitations");
  if (error) throw new ApiError("invite", response, error);
  say`invitation ${data.id} (${data.status}), code ${data.code}, expires ${data.expires_at}`;
  return data;
}

async function redeem(patient: Api, code: string): Promise<Schemas["CareLink"]> {
  const { data, error, response } = await patient.POST("/v1/care-team", {
    body: { code, scopes: ["moods", "entries", "assessments"] },
  });
  if (error) throw new ApiError("redeem", response, error);
  say`linked to ${data.therapist.display_name} (${data.therapist.id}): ${data.scopes.join(", ")}, version ${data.version}`;
  return data;
}

async function patientsPage(therapist: Api, cursor: string | null): Promise<Schemas["PatientSummaryPage"]> {
  const { data, error, response } = await therapist.GET("/v1/patients", {
    params: { query: { limit: 20, ...(cursor === null ? {} : { cursor }) } },
  });
  if (error) throw new ApiError("patients", response, error);
  const link = header<operations["listPatients"]["responses"][200]["headers"]>(response, "Link");
  if (link) say`next page: ${link}`;
  return data;
}

async function reviewPatients(therapist: Api): Promise<void> {
  let cursor: string | null = null;
  do {
    const page = await patientsPage(therapist, cursor);
    for (const patient of page.items) {
      const latest = patient.latest_mood ? `${patient.latest_mood.mood}/10 at ${patient.latest_mood.recorded_at}` : "no mood shared";
      const flags = patient.open_safety_flags === null ? 0 : patient.open_safety_flags.length;
      say`patient ${patient.display_name} (${patient.patient_id}) since ${patient.linked_at}: ${latest}, ${flags} safety flag(s)`;
      say`  PHQ-9 ${patient.latest_phq9 === null ? "-" : patient.latest_phq9.score}, GAD-7 ${patient.latest_gad7 === null ? "-" : patient.latest_gad7.score}; scopes ${patient.scopes.join(", ")}`;
      if (patient.scopes.includes("moods")) await patientMoods(therapist, patient.patient_id);
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
}

async function patientMoodsPage(therapist: Api, patientId: string, cursor: string | null): Promise<Schemas["MoodPage"]> {
  const { data, error, response } = await therapist.GET("/v1/patients/{patient_id}/moods", {
    params: { path: { patient_id: patientId }, query: { limit: 100, ...(cursor === null ? {} : { cursor }) } },
  });
  if (error) throw new ApiError("patient moods", response, error);
  return data;
}

async function patientMoods(therapist: Api, patientId: string): Promise<void> {
  let cursor: string | null = null;
  do {
    const page = await patientMoodsPage(therapist, patientId, cursor);
    for (const mood of page.items) {
      say`  ${mood.recorded_at}: ${mood.mood}/10, anxiety ${shown(mood.anxiety, "-")}, ${mood.emotions.join(", ")}`;
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
}

// ---------------------------------------------------------------- the whole day

export async function main(baseUrl: string): Promise<void> {
  const stamp = Date.now();
  const patientTokens = new Tokens();
  const patient = connect(baseUrl, patientTokens);
  const patientEmail = `patient-${stamp}@example.org`;
  await register(patient, patientEmail, "patient", "Alex");
  await logIn(patient, patientTokens, patientEmail);
  await refresh(patient, patientTokens);
  await me(patient);

  const { session } = await recordSessionDay(patient);
  await followThePlan(patient, session);
  const { mood, etag } = await checkIn(patient);
  await logPractice(patient);
  await addSupportPerson(patient);
  await takePhq9(patient, session);
  await revalidate(patient, mood, etag);
  await editOnTwoDevices(patient, mood, etag);
  await submitBadForm(patient);
  await allMoods(patient, new Date(stamp - 30 * 86400 * 1000).toISOString());

  const store = new LocalStore();
  await sync(patient, store);
  if (patientTokens.dueForRefresh) await refresh(patient, patientTokens);
  await sync(patient, store); // nothing new: one page, no changes

  const therapistTokens = new Tokens();
  const therapist = connect(baseUrl, therapistTokens);
  const therapistEmail = `therapist-${stamp}@example.org`;
  await register(therapist, therapistEmail, "therapist", "Dr. Rivera");
  await logIn(therapist, therapistTokens, therapistEmail);
  const invitation = await invite(therapist);
  await redeem(patient, invitation.code);
  await reviewPatients(therapist);
}

main(process.env["API_BASE_URL"] ?? "http://127.0.0.1:5000").catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
