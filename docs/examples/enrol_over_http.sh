#!/usr/bin/env sh
# A partner enrols a resident over HTTP: one CloudEvent, structured mode, bearer token.
# Run: TOKEN=$(dn token --role partner --association asso-lac-connecte) sh enrol_over_http.sh
GATEWAY="${GATEWAY:-http://127.0.0.1:8000}"
ID="${EVENT_ID:-$(python3 -c 'import uuid; print(uuid.uuid4())')}"
curl --fail-with-body -sS -X POST "$GATEWAY/ingest/registration" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/cloudevents+json" \
  -d @- <<JSON
{
  "specversion": "1.0",
  "id": "$ID",
  "source": "partner/asso-lac-connecte-crm",
  "type": "dn.intake.registration.enrolment_requested.v1",
  "time": "2026-03-02T09:30:00Z",
  "data": {
    "association_id": "asso-lac-connecte",
    "district_id": "qpv-aubiers-lac",
    "first_name": "${FIRST_NAME:-Malik}",
    "last_name": "${LAST_NAME:-Exemple}",
    "birth_year": 1979,
    "phone": null,
    "gender": "male",
    "tracks": ["digital_inclusion"],
    "employment_status": "unemployed_not_registered",
    "consent": {"programme_follow_up": true, "share_with_partners": false,
                "contact_for_surveys": true}
  }
}
JSON
