"""After a load run: the clients' log of 201s against the database, and the run's 5xx count.

Reads the accounts (prepare.py), the write log and the results (locustfile.py), and the
run's users' records from DATABASE_URL. Passes only when

- every record a 201 acknowledged exists, once, with its owner (none lost);
- each Idempotency-Key was answered with one record id, however often it was sent, and made
  one record: a write's time field is unique in the run, so two records with one key's time are a
  duplicate even if no client was told about the second (none duplicated);
- every record of the run's users was either acknowledged or made by a request whose answer the
  client never got (the run ended while it was in flight, or it failed): those are counted and
  listed as accounted for; a record no request explains fails the run;
- each acknowledged key's stored answer (idempotency_keys) names the acknowledged record;
- each acknowledged PHQ-9 with item 9 above 0 has exactly one safety event, and no other has one;
- no request was answered 5xx, and no client-side check failed (a retried key that was not a
  replay, a refresh replay that answered another pair, an acknowledged write missing from
  /v1/sync, a record repeated across list pages).

    .venv-load/bin/python bench/load/verify.py --accounts out/accounts.json \
        --writes out/writes.jsonl --results out/results.json   # DATABASE_URL in the environment
"""

import argparse
import json
import os
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa

TABLES = {
    "mood": ("moods", "recorded_at"),
    "entry": ("entries", "occurred_at"),
    "practice": ("practices", "performed_at"),
    "assessment": ("assessments", "taken_at"),
}


def engine_url(url):
    """postgres:// and postgresql:// URLs are read with psycopg 3, as the app reads them."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else url


def utc(moment):
    """SQLite keeps no offset: its times are UTC, as the app stores them."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_log(path):
    sent, answers = {}, defaultdict(list)
    with open(path) as log:
        for line in log:
            row = json.loads(line)
            if row["event"] == "sent":
                sent[row["key"]] = row
            else:
                answers[row["key"]].append(row)
    return sent, answers


def read_database(engine, owner_ids):
    """The run's users' records [(kind, id, owner, time, deleted_at)], stored Idempotency-Key
    answers {(user, key): record id} and safety events per assessment id."""
    owners = [uuid.UUID(owner) for owner in owner_ids]
    records, stored_answers, safety_events = [], {}, Counter()
    with engine.connect() as connection:
        for kind, (name, time_field) in TABLES.items():
            table = sa.table(
                name,
                sa.column("id", sa.Uuid),
                sa.column("owner_id", sa.Uuid),
                sa.column(time_field, sa.DateTime(timezone=True)),
                sa.column("deleted_at", sa.DateTime(timezone=True)),
            )
            rows = connection.execute(sa.select(table).where(table.c.owner_id.in_(owners)))
            records += [(kind, str(i), str(owner), utc(at), deleted) for i, owner, at, deleted in rows]
        answers = sa.table(
            "idempotency_keys",
            sa.column("user_id", sa.Uuid),
            sa.column("key"),
            sa.column("resource_id", sa.Uuid),
        )
        for user_id, key, resource_id in connection.execute(
            sa.select(answers).where(answers.c.user_id.in_(owners))
        ):
            stored_answers[(str(user_id), key)] = str(resource_id)
        events = sa.table(
            "safety_events", sa.column("owner_id", sa.Uuid), sa.column("assessment_id", sa.Uuid)
        )
        for (assessment_id,) in connection.execute(
            sa.select(events.c.assessment_id).where(events.c.owner_id.in_(owners))
        ):
            safety_events[str(assessment_id)] += 1
    return records, stored_answers, safety_events


def verify(accounts, sent, answers, records, stored_answers, safety_events, statuses):
    """(result lines, problems): problems is empty when the run kept every promise."""
    problems, lines = [], []

    # What the clients were told: each key's acknowledged record ids.
    acknowledged = {}  # key -> record id
    for key, rows in answers.items():
        ids = {row["id"] for row in rows if row["status"] == 201}
        if len(ids) > 1:
            problems.append(
                f"duplicated: key {key} ({sent[key]['kind']}) answered with records {sorted(ids)}"
            )
        if ids:
            acknowledged[key] = min(ids)

    # What the database holds, by record id and by the (kind, owner, time) that names the request.
    by_id = {(kind, record_id): (owner, at, deleted) for kind, record_id, owner, at, deleted in records}
    by_request = defaultdict(list)
    for kind, record_id, owner, at, _ in records:
        by_request[(kind, owner, at)].append(record_id)
    request_of = {
        (row["kind"], row["owner"], utc(datetime.fromisoformat(row["stamp"]))): key
        for key, row in sent.items()
    }

    lost, duplicated = 0, 0
    for key, record_id in acknowledged.items():
        row = sent[key]
        found = by_id.get((row["kind"], record_id))
        if found is None or found[0] != row["owner"]:
            lost += 1
            problems.append(f"lost: {row['kind']} {record_id} (key {key}) acknowledged, not in the database")
        elif found[2] is not None:
            problems.append(
                f"deleted: {row['kind']} {record_id} (key {key}) is soft-deleted; nothing deletes"
            )
        stored = stored_answers.get((row["owner"], key))
        if stored != record_id:
            problems.append(f"stored answer: key {key} names {stored}, acknowledged {record_id}")
    for request, record_ids in by_request.items():
        if len(record_ids) > 1:
            duplicated += len(record_ids) - 1
            problems.append(
                f"duplicated: {len(record_ids)} {request[0]} records for one request "
                f"(key {request_of.get(request)}): {sorted(record_ids)}"
            )

    acknowledged_ids = {(sent[key]["kind"], record_id) for key, record_id in acknowledged.items()}
    unanswered, unexplained = [], []
    for kind, record_id, owner, at, _ in records:
        if (kind, record_id) in acknowledged_ids:
            continue
        key = request_of.get((kind, owner, at))
        if key is None:
            unexplained.append((kind, record_id))
            problems.append(f"unexplained: {kind} {record_id} of {owner} matches no request of the run")
        else:
            told = [row.get("status") for row in answers.get(key, [])]
            unanswered.append((kind, record_id, key, told))

    flagged = {
        acknowledged[key] for key, row in sent.items() if row.get("safety_event") and key in acknowledged
    }
    plain = {
        acknowledged[key] for key, row in sent.items() if row["kind"] == "assessment" and key in acknowledged
    }
    plain -= flagged
    for assessment_id in flagged:
        if safety_events[assessment_id] != 1:
            problems.append(f"safety: PHQ-9 {assessment_id} has {safety_events[assessment_id]} safety events")
    for assessment_id in plain:
        if safety_events[assessment_id]:
            problems.append(f"safety: PHQ-9 {assessment_id} without item 9 has a safety event")

    five_hundreds = {
        name: {status: count for status, count in counts.items() if status.startswith("5")}
        for name, counts in statuses.items()
    }
    five_hundreds = {name: counts for name, counts in five_hundreds.items() if counts}
    server_errors = sum(sum(counts.values()) for counts in five_hundreds.values())
    for name, counts in five_hundreds.items():
        problems.append(f"5xx: {name}: {counts}")
    no_answer = sum(
        count
        for counts in statuses.values()
        for status, count in counts.items()
        if status.startswith("no answer")
    )
    for name, counts in statuses.items():
        if counts.get("failed check"):
            problems.append(f"client check failed {counts['failed check']} time(s): {name}")
    requests_total = sum(sum(counts.values()) for counts in statuses.values())

    per_kind = Counter(sent[key]["kind"] for key in acknowledged)
    in_database = Counter(kind for kind, *_ in records)
    repeated = sum(1 for rows in answers.values() if len(rows) > 1)
    replays = sum(1 for rows in answers.values() for row in rows if row.get("replayed"))
    lines += [
        f"users: {len(accounts['patients'])} patients, {len(accounts['therapists'])} therapists",
        f"keys: {len(sent)} sent, {repeated} sent more than once, {replays} replayed 201s, "
        f"{sum(1 for rows in answers.values() for row in rows if row['status'] == 409)} in-flight 409s",
        *(f"  {kind}: {per_kind[kind]} acknowledged, {in_database[kind]} in database" for kind in TABLES),
        f"writes: {len(acknowledged)} acknowledged, {len(records)} in database, {lost} lost, "
        f"{duplicated} duplicated",
        f"unacknowledged records: {len(unanswered)} accounted for (the client never got a 201), "
        f"{len(unexplained)} unexplained",
        *(
            f"  {kind} {record_id}: key {key}, answers seen {told or 'none (the run ended in flight)'}"
            for kind, record_id, key, told in unanswered
        ),
        f"safety events: {len(flagged)} flagged PHQ-9s acknowledged, "
        f"{sum(1 for a in flagged if safety_events[a] == 1)} with exactly one event",
        f"requests: {requests_total} answered or attempted, {server_errors} 5xx, "
        f"{no_answer} without an answer",
    ]
    return lines, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", required=True)
    parser.add_argument("--writes", required=True)
    parser.add_argument("--results", required=True, help="LOAD_RESULTS of the locust run")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("verify: set DATABASE_URL to the deployment's database")

    accounts = json.load(open(args.accounts))
    sent, answers = read_log(args.writes)
    statuses = json.load(open(args.results))["statuses"]
    owner_ids = [patient["id"] for patient in accounts["patients"]]
    engine = sa.create_engine(engine_url(url))
    records, stored_answers, safety_events = read_database(engine, owner_ids)
    engine.dispose()
    lines, problems = verify(accounts, sent, answers, records, stored_answers, safety_events, statuses)
    print("\n".join(lines))
    if problems:
        print(f"FAILED: {len(problems)} problem(s)")
        print("\n".join(f"  {problem}" for problem in problems[:200]))
        sys.exit(1)
    print("OK: no 5xx, no lost, duplicated or unexplained write")


if __name__ == "__main__":
    main()
