#!/usr/bin/env python3
"""Writes the sample FHIR inputs of this folder from golden Bundles of the v2 mapper, the way a
FHIR-capable hospital would send the same stays: its own resource ids (not CareBridge's derived
ones), urn:uuid fullUrls and references, and the envelope of each route.

  davinci_discharge_notification.json  Da Vinci discharge notification (POST /fhir/$process-message)
                                       of St. Brigid's stay 4471782215 (stbrigid_v24_A03_03)
  transaction_bundle.json              transaction Bundle (POST /fhir) of Lakeshore's admission
                                       LV10345120 (lakeshore_v251_A01_01), plus a Provenance the
                                       gateway leaves out
  finished_encounter.json              a finished Encounter (PUT /fhir/Encounter/rrmc-v000418231) of
                                       Riverbend's stay V000418231 (riverbend_v23_A03_01): the patient
                                       by identifier, the diagnoses as contained Conditions

Run from anywhere: python3 tests/data/fhir/input/make_inputs.py. The output is deterministic.
"""
import copy
import json
import pathlib
import uuid

here = pathlib.Path(__file__).resolve().parent
golden = here.parent / "golden"
DAVINCI = "http://hl7.org/fhir/us/davinci-alerts"
NS = uuid.UUID("6f1b8a52-0c1e-4d53-9d0e-2f8c0c7e5a10")


def load(name):
    return json.loads((golden / f"{name}.json").read_text())


def sender_id(prefix, rtype, old):
    return f"{prefix}-{rtype.lower()}-{old[:8]}"


def walk_refs(node, fn):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            node["reference"] = fn(node["reference"])
        for v in node.values():
            walk_refs(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk_refs(v, fn)


def as_sender_bundle(b, prefix):
    """The golden Bundle's resources with sender ids, urn:uuid fullUrls and references."""
    urls = {}
    out = []
    for e in b["entry"]:
        r = copy.deepcopy(e["resource"])
        old = f'{r["resourceType"]}/{r["id"]}'
        r["id"] = sender_id(prefix, r["resourceType"], r["id"])
        urls[old] = "urn:uuid:" + str(uuid.uuid5(NS, prefix + old))
        out.append((urls[old], r))
    for _, r in out:
        walk_refs(r, lambda ref: urls.get(ref, ref))
    return out, urls


def write(name, doc):
    (here / name).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def discharge_notification():
    b = load("stbrigid_v24_A03_03")
    resources, _ = as_sender_bundle(b, "stb")
    by_type = {}
    for url, r in resources:
        by_type.setdefault(r["resourceType"], []).append(url)
    header_url = "urn:uuid:" + str(uuid.uuid5(NS, "stb-messageheader"))
    header = {
        "resourceType": "MessageHeader",
        "id": "stb-mh-202611041152030008",
        "meta": {"profile": [f"{DAVINCI}/StructureDefinition/discharge-notification-messageheader"]},
        "eventCoding": {"system": f"{DAVINCI}/CodeSystem/notification-event",
                        "code": "notification-discharge", "display": "Notification of Discharge"},
        "source": {"name": "St. Brigid's EHR", "endpoint": "https://fhir.stbrigids.example.org/fhir"},
        "sender": {"reference": by_type["Organization"][0]},
        "focus": [{"reference": by_type["Encounter"][0]}],
    }
    encounter = [r for u, r in resources if r["resourceType"] == "Encounter"][0]
    # Da Vinci sends the focus first after the header.
    ordered = [(header_url, header)]
    ordered += [(u, r) for u, r in resources if r["resourceType"] == "Encounter"]
    ordered += [(u, r) for u, r in resources if r["resourceType"] != "Encounter"]
    write("davinci_discharge_notification.json", {
        "resourceType": "Bundle",
        "id": "stb-notification-202611041152030008",
        "meta": {"profile": [f"{DAVINCI}/StructureDefinition/notifications-bundle"]},
        "identifier": {"system": "urn:oid:2.16.840.1.113883.19.2.9", "value": "STB202611041152030008"},
        "type": "message",
        "timestamp": "2026-11-04T11:52:03-05:00",
        "entry": [{"fullUrl": u, "resource": r} for u, r in ordered],
    })
    assert encounter["status"] == "finished"


def transaction():
    b = load("lakeshore_v251_A01_01")
    resources, urls = as_sender_bundle(b, "luh")
    # Upserts of the patient and the stay by the hospital's ids, creates for the rest.
    entries = [{"fullUrl": u, "resource": r,
                "request": ({"method": "PUT", "url": f'{r["resourceType"]}/{r["id"]}'}
                            if r["resourceType"] in ("Patient", "Encounter")
                            else {"method": "POST", "url": r["resourceType"]})}
               for u, r in resources]
    enc_url = [u for u, r in resources if r["resourceType"] == "Encounter"][0]
    entries.append({
        "fullUrl": "urn:uuid:" + str(uuid.uuid5(NS, "luh-provenance")),
        "resource": {"resourceType": "Provenance", "id": "luh-prov-1",
                     "target": [{"reference": enc_url}],
                     "recorded": "2026-11-21T22:41:00-06:00",
                     "agent": [{"who": {"display": "Lakeshore University Health interface"}}]},
        "request": {"method": "POST", "url": "Provenance"},
    })
    write("transaction_bundle.json", {
        "resourceType": "Bundle",
        "id": "luh-tx-LUH202611212240",
        "identifier": {"system": "urn:oid:2.16.840.1.113883.19.3.9", "value": "LUH202611212240"},
        "type": "transaction",
        "timestamp": "2026-11-21T22:41:00-06:00",
        "entry": entries,
    })


def finished_encounter():
    b = load("riverbend_v23_A03_01")
    by_ref = {f'{e["resource"]["resourceType"]}/{e["resource"]["id"]}': e["resource"] for e in b["entry"]}
    enc = copy.deepcopy([r for r in by_ref.values() if r["resourceType"] == "Encounter"][0])
    patient = by_ref[enc["subject"]["reference"]]
    mrn = patient["identifier"][0]
    enc["id"] = "rrmc-v000418231"
    enc["subject"] = {"identifier": {"type": mrn["type"], "system": mrn["system"], "value": mrn["value"]}}
    contained = []
    for n, d in enumerate(enc.get("diagnosis", []), start=1):
        cond = copy.deepcopy(by_ref[d["condition"]["reference"]])
        cond["id"] = f"dx{n}"
        cond["subject"] = copy.deepcopy(enc["subject"])
        cond["encounter"] = {"reference": f"Encounter/{enc['id']}"}
        contained.append(cond)
        d["condition"] = {"reference": f"#dx{n}"}
    # Practitioners, Location and Organization live in the hospital's own server: references the
    # gateway cannot resolve keep only their display.
    for p in enc.get("participant", []):
        p["individual"] = {"reference": "Practitioner/rrmc-staff-" + p["individual"]["reference"][-8:],
                           "display": "attending physician"}
    enc.pop("location", None)
    enc["serviceProvider"] = {"reference": "Organization/rrmc", "display": "Riverbend Regional Medical Center"}
    out = {"resourceType": "Encounter", "id": enc["id"], "contained": contained}
    out.update({k: v for k, v in enc.items() if k not in ("resourceType", "id")})
    write("finished_encounter.json", out)


discharge_notification()
transaction()
finished_encounter()
