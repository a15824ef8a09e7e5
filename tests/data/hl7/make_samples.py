#!/usr/bin/env python3
"""Writes the HL7 v2 sample messages under tests/data/hl7/ (adt/, edge/, batch/), byte for byte.

Everything here is fictional: people, identifiers, addresses, phone numbers and organisations.
SSNs use the never-issued 9xx area, phone numbers the 555-01xx range, e-mail addresses
example.com/example.org, OIDs the HL7 example root 2.16.840.1.113883.19 (plus the public OIDs of
the SSA and the NPI registry as assigning authorities). Codes (ICD-10-CM, ICD-10-PCS, CPT, LOINC)
are real codes used in made-up encounters.

The script is the source of truth: it builds every file from the data below, checks each file
with a small independent reference reader (split on any CR/LF run, delimiters from MSH-1/MSH-2,
escapes decoded the way tests/data/hl7/edge/README.md states), and writes the README tables of
adt/, edge/ and batch/ from the same data, so the expected values in them are the checked ones.
It also writes adt/hospitals.json, the per-facility configuration (time zone, identifier systems,
local codes) the v2 -> FHIR mapper's golden tests use, and checks it against the adt/ files.

    python3 tests/data/hl7/make_samples.py           # (re)write the files and READMEs
    python3 tests/data/hl7/make_samples.py --check   # exit 1 if a file on disk differs

Running it again writes the same bytes (no clock, no randomness).
"""
from __future__ import annotations

import argparse
import codecs
import json
import re
import sys
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent

# ER7 escape sequences with the default delimiters, for use inside data strings.
E_F, E_S, E_T, E_R, E_E = "\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\"


# --------------------------------------------------------------------------------------------
# ER7 building
# --------------------------------------------------------------------------------------------

def seg(name: str, values: dict[int, str], sep: str = "|", pad_to: int = 0) -> str:
    """A segment from {field number: ER7 text}; trailing empty fields are not sent unless pad_to."""
    used = [k for k, v in values.items() if v != ""]
    n = max(used + [pad_to], default=0)
    return sep.join([name] + [values.get(i, "") for i in range(1, n + 1)])


def msh_seg(values: dict[int, str], enc: str = "^~\\&", sep: str = "|") -> str:
    """MSH from {field number >= 3: text}; MSH-1 is `sep`, MSH-2 is `enc`."""
    used = [k for k, v in values.items() if v != "" and k >= 3]
    n = max(used, default=2)
    return "MSH" + sep + enc + "".join(sep + values.get(i, "") for i in range(3, n + 1))


def er7(segments: list[str], term: str = "\r", encoding: str = "ascii") -> bytes:
    return "".join(s + term for s in segments).encode(encoding)


# --------------------------------------------------------------------------------------------
# Hospitals: five senders with their own versions and habits
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prov:
    ident: str
    family: str
    given: str
    middle: str = ""
    degree: str = "MD"


class Hospital:
    key = ""
    name = ""
    version = ""
    app = ""
    facility = ""          # MSH-4 as sent
    short = ""             # assigning authority / facility code
    recv_app = "CAREBRIDGE"
    recv_fac = "CAREBRIDGE"
    msh15 = msh16 = msh17 = msh18 = msh21 = ""
    encoding = "ascii"
    pid19_ssn = True       # SSN in PID-19 as well as in PID-3
    evn_code = True        # EVN-1 valued (withdrawn in v2.7+)
    use_rol = False        # PCP in ROL instead of PD1-4
    county = ""
    lab_system = ""        # coding-system name of local lab codes in the first CWE triplet (LOINC second)
    lab_codes: dict[str, tuple[str, str]] = {}   # LABS/PANELS key -> (local code, local text)

    # --- time
    def ts(self, dt: datetime) -> str:
        return dt.strftime("%Y%m%d%H%M%S")

    def msh_ts(self, dt: datetime) -> str:
        return self.ts(dt)

    def day(self, d: date | datetime) -> str:
        return d.strftime("%Y%m%d")

    # --- header
    def control_id(self, dt: datetime, seq: int) -> str:
        raise NotImplementedError

    def msg_type(self, code: str, event: str, struct: str) -> str:
        return f"{code}^{event}^{struct}"

    # --- data types
    def cx(self, ident: str, auth: str, typ: str) -> str:
        return f"{ident}^^^{auth}^{typ}"

    def ss_auth(self) -> str:
        return "SSA"

    def xpn(self, fam: str, given: str, mid: str = "", suffix: str = "", prefix: str = "",
            typ: str = "L") -> str:
        return f"{fam}^{given}^{mid}^{suffix}^{prefix}^^{typ}".rstrip("^")

    def xad(self, street: str, other: str, city: str, st: str, zip_: str, typ: str = "H") -> str:
        county = self.county if typ == "H" else ""
        return f"{street}^{other}^{city}^{st}^{zip_}^USA^{typ}^^{county}".rstrip("^")

    def xtn(self, area: str, local: str, use: str = "PRN", equip: str = "PH") -> str:
        return f"({area})555-{local}^{use}^{equip}^^1^{area}^555{local}"

    def email(self, addr: str) -> str:
        return f"^NET^Internet^{addr}"

    def xcn(self, p: Prov) -> str:
        return f"{p.ident}^{p.family}^{p.given}^{p.middle}^^^{p.degree}^^^^^^NPI"

    def cwe(self, code: str, text: str, system: str) -> str:
        return f"{code}^{text}^{system}"

    def pl(self, unit: str, room: str, bed: str) -> str:
        return f"{unit}^{room}^{bed}^{self.short}"

    def race(self, r: str) -> str:
        return RACE[r]

    def ethnic(self, e: str) -> str:
        return ETHNIC[e]

    def units(self, u: str) -> str:
        return f"{u}^{u}^UCUM"

    def org(self, name: str) -> str:
        return name

    def zsegs(self, e: "Encounter", where: str) -> list[str]:
        return []


RACE = {"W": "2106-3^White^CDCREC", "B": "2054-5^Black or African American^CDCREC",
        "A": "2028-9^Asian^CDCREC", "O": "2131-1^Other Race^CDCREC",
        "I": "1002-5^American Indian or Alaska Native^CDCREC"}
ETHNIC = {"N": "2186-5^Not Hispanic or Latino^CDCREC", "H": "2135-2^Hispanic or Latino^CDCREC"}


class Riverbend(Hospital):
    """Riverbend Regional Medical Center, La Crosse WI: an old v2.3 feed. Upper-case names, minute
    precision without offsets, v2.3 TN phone strings, local provider numbers, a ZPV segment."""
    key, name, version = "riverbend", "Riverbend Regional Medical Center", "2.3"
    app, facility, short = "RRMC_ADT", "RRMC", "RRMC"
    recv_fac = "PAYERHUB"

    def ts(self, dt):
        return dt.strftime("%Y%m%d%H%M")

    def control_id(self, dt, seq):
        return str(88231457 + 1303 * seq)

    def msg_type(self, code, event, struct):
        return f"{code}^{event}"

    def xpn(self, fam, given, mid="", suffix="", prefix="", typ="L"):
        return f"{fam}^{given}^{mid}^{suffix}^{prefix}".rstrip("^")

    def xad(self, street, other, city, st, zip_, typ="H"):
        return f"{street}^{other}^{city}^{st}^{zip_}".rstrip("^")

    def xtn(self, area, local, use="PRN", equip="PH"):
        return f"({area})555-{local}"

    def email(self, addr):
        return ""

    def xcn(self, p):
        return f"{p.ident}^{p.family}^{p.given}^{p.middle}"

    def race(self, r):
        return r

    def ethnic(self, e):
        return e

    def units(self, u):
        return u

    def zsegs(self, e, where):
        if where != "end":
            return []
        return [seg("ZPV", {1: "1", 2: e.z.get("unit_type", "MEDSURG"), 3: e.z.get("dc_nurse", ""),
                            4: e.z.get("readmit_risk", ""), 5: "Y" if e.event == "A03" else "N"})]


class StBrigid(Hospital):
    """St. Brigid's Hospital, Boston MA: v2.4, second precision without offsets, MSH-17, NPI
    providers, HL7-table race codes, the account number in PID-18, no Z-segments."""
    key, name, version = "stbrigid", "St. Brigid's Hospital", "2.4"
    app, facility, short = "CARELINK", "STBRIGID", "STBRIGID"
    msh17 = "USA"
    county = "25025"

    def control_id(self, dt, seq):
        return f"STB{dt:%Y%m%d%H%M%S}{seq:04d}"

    def xcn(self, p):
        return f"{p.ident}^{p.family}^{p.given}^{p.middle}^^Dr^{p.degree}^^NPI^L^^^NPI"

    def race(self, r):
        return RACE[r].replace("CDCREC", "HL70005")

    def ethnic(self, e):
        return ETHNIC[e].replace("CDCREC", "HL70189")

    def units(self, u):
        return u


class Lakeshore(Hospital):
    """Lakeshore University Health, Chicago IL: v2.5.1 with enhanced acknowledgment (MSH-15 AL,
    MSH-16 NE), OIDs in every assigning authority, -0600 offsets, the SSN only in PID-3."""
    key, name, version = "lakeshore", "Lakeshore University Health", "2.5.1"
    app = "LUHEHR"
    facility = "LUH^2.16.840.1.113883.19.3^ISO"
    short = "LUH"
    recv_fac = "CAREBRIDGE^2.16.840.1.113883.19.99^ISO"
    msh15, msh16, msh17 = "AL", "NE", "USA"
    pid19_ssn = False
    county = "17031"

    def ts(self, dt):
        return dt.strftime("%Y%m%d%H%M%S") + "-0600"

    def control_id(self, dt, seq):
        return f"LUH-ADT-{dt:%Y%m%d}{seq:05d}"

    def cx(self, ident, auth, typ):
        oid = {"LUH": "2.16.840.1.113883.19.3", "SSA": "2.16.840.1.113883.4.1"}.get(auth)
        return f"{ident}^^^{auth}&{oid}&ISO^{typ}" if oid else f"{ident}^^^{auth}^{typ}"

    def xcn(self, p):
        return (f"{p.ident}^{p.family}^{p.given}^{p.middle}^^^{p.degree}^^"
                f"NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI")

    def pl(self, unit, room, bed):
        return f"{unit}^{room}^{bed}^LUH&2.16.840.1.113883.19.3&ISO^^N^LKSH TOWER^{unit[0]}"

    def org(self, name):
        return f"{name}^L^^^^LUH&2.16.840.1.113883.19.3&ISO^XX^^^LUH"


class Northfield(Hospital):
    """Northfield Community Hospital, Rochester NY: v2.6 from a Meditech-style system. MSH-7 and
    EVN-2 carry -0500, visit times do not; a ZPV right after PV1 and a ZIN after IN1."""
    key, name, version = "northfield", "Northfield Community Hospital", "2.6"
    app, facility, short = "MT", "NCH", "NCH"
    recv_app = "CAREBRIDGE_IN"
    msh17 = "USA"
    county = "36055"

    def ts(self, dt):
        return dt.strftime("%Y%m%d%H%M")

    def msh_ts(self, dt):
        return dt.strftime("%Y%m%d%H%M%S") + "-0500"

    def control_id(self, dt, seq):
        return f"NCH.{dt:%Y%m%d}.{4815 + 37 * seq:06d}"

    def xcn(self, p):
        return f"{p.ident}^{p.family}^{p.given}^{p.middle}^^^{p.degree}^^NCHDR"

    lab_system = "99NCH"
    lab_codes = {"CBC": ("CBC", "COMPLETE BLOOD COUNT"), "BMP": ("BMP", "BASIC METABOLIC PANEL"),
                 "HGB": ("HGB", "HEMOGLOBIN"), "NA": ("NA", "SODIUM"), "K": ("K", "POTASSIUM")}

    def units(self, u):
        return f"{u}^^UCUM"

    def zsegs(self, e, where):
        if where == "after_pv1":
            return [seg("ZPV", {1: e.z.get("acuity", "3"), 2: e.z.get("isolation", "N"),
                                3: e.z.get("fall_risk", "LOW"), 4: "MT.ADM.DC" if e.event == "A03" else "MT.ADM.REG"})]
        if where == "after_in1" and e.insurance:
            return [seg("ZIN", {1: "1", 2: e.z.get("auth", ""), 3: "VERIFIED", 4: self.day(e.admit)})]
        return []


class Cascadia(Hospital):
    """Cascadia Valley Health, Olympia WA: v2.8. UUID control ids, fractional seconds with -0800,
    MSH-15 NE / MSH-16 AL, MSH-18 UNICODE UTF-8 (some names are not ASCII), MSH-21 profile,
    no EVN-1, no PID-19 (withdrawn), the PCP in a ROL segment."""
    key, name, version = "cascadia", "Cascadia Valley Health", "2.8"
    app = "CVH-EHR"
    facility = "CVH^2.16.840.1.113883.19.5^ISO"
    short = "CVH"
    recv_fac = "CAREBRIDGE^2.16.840.1.113883.19.99^ISO"
    msh15, msh16, msh17, msh18 = "NE", "AL", "USA", "UNICODE UTF-8"
    msh21 = "CVH_V28_PROFILE^CVH^2.16.840.1.113883.19.5.7^ISO"
    encoding = "utf-8"
    pid19_ssn = False
    evn_code = False
    use_rol = True
    county = "53067"

    def ts(self, dt):
        return dt.strftime("%Y%m%d%H%M%S") + f".{(dt.microsecond // 1000):03d}-0800"

    def control_id(self, dt, seq):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:cvh:adt:{dt:%Y%m%d%H%M%S}:{seq}"))

    def cx(self, ident, auth, typ):
        oid = {"CVH": "2.16.840.1.113883.19.5", "SSA": "2.16.840.1.113883.4.1"}.get(auth)
        return f"{ident}^^^{auth}&{oid}&ISO^{typ}" if oid else f"{ident}^^^{auth}^{typ}"

    def xtn(self, area, local, use="PRN", equip="PH"):
        return f"^{use}^{equip}^^1^{area}^555{local}"

    def xcn(self, p):
        return (f"{p.ident}^{p.family}^{p.given}^{p.middle}^^^{p.degree}^^"
                f"NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI")

    def pl(self, unit, room, bed):
        return f"{unit}^{room}^{bed}^CVH&2.16.840.1.113883.19.5&ISO"


class LakeshoreSonoran(Lakeshore):
    """Lakeshore University Health Sonoran Campus, Scottsdale AZ: Lakeshore's second sending facility
    (MSH-4 LUHSC), the campus's old registration system behind Lakeshore's interface engine. Local
    time without offsets (Arizona keeps MST all year), its own MRN namespace LUHSC next to the
    enterprise LUH MRN in PID-3, local discharge disposition codes in PV1-36."""
    name = "Lakeshore University Health Sonoran Campus"
    facility = "LUHSC^2.16.840.1.113883.19.3.9^ISO"
    short = "LUHSC"
    county = ""

    def ts(self, dt):
        return dt.strftime("%Y%m%d%H%M%S")

    def control_id(self, dt, seq):
        return f"LUHSC{dt:%y%m%d%H%M}{seq:03d}"

    def cx(self, ident, auth, typ):
        oid = {"LUHSC": "2.16.840.1.113883.19.3.9", "LUH": "2.16.840.1.113883.19.3",
               "SSA": "2.16.840.1.113883.4.1", "CMS": "2.16.840.1.113883.4.927"}.get(auth)
        return f"{ident}^^^{auth}&{oid}&ISO^{typ}" if oid else f"{ident}^^^{auth}^{typ}"

    def pl(self, unit, room, bed):
        return f"{unit}^{room}^{bed}^LUHSC&2.16.840.1.113883.19.3.9&ISO^^N^SONORAN^1"


RIVERBEND, STBRIGID, LAKESHORE, NORTHFIELD, CASCADIA = (
    Riverbend(), StBrigid(), Lakeshore(), Northfield(), Cascadia())
LUHSC = LakeshoreSonoran()
SENDERS = (RIVERBEND, STBRIGID, LAKESHORE, LUHSC, NORTHFIELD, CASCADIA)


# --------------------------------------------------------------------------------------------
# Clinical catalogues
# --------------------------------------------------------------------------------------------

LABS = {  # key: (LOINC, long name, unit, reference range F, reference range M)
    "HGB": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "12.0-15.5", "13.5-17.5"),
    "NA": ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "136-145", "136-145"),
    "K": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "3.5-5.1", "3.5-5.1"),
    "CREA": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "0.51-0.95", "0.67-1.17"),
    "WBC": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "4.0-11.0", "4.0-11.0"),
    "GLU": ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "70-99", "70-99"),
    "PLT": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "150-400", "150-400"),
    "LACT": ("2524-7", "Lactate [Moles/volume] in Serum or Plasma", "mmol/L", "0.5-2.2", "0.5-2.2"),
    "BNP": ("33762-6", "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
            "pg/mL", "<450", "<450"),
    "TROP": ("10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma", "ng/mL", "<0.04", "<0.04"),
    "HCT": ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", "36.0-46.0", "41.0-53.0"),
    "BUN": ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", "6-20", "6-20"),
    "CL": ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", "98-107", "98-107"),
    "CO2": ("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", "22-29", "22-29"),
}

DISPOSITION = {  # PV1-36 (UB-04 patient status, as most US senders use it)
    "01": "Discharged to home or self care", "03": "Discharged to skilled nursing facility",
    "06": "Discharged to home under care of home health", "07": "Left against medical advice",
    "62": "Discharged to inpatient rehabilitation facility",
}
NUBC_STATUS = {  # the NUBC UB-04 FL17 codes the local tables below translate to (subset)
    "01": "Discharged to home or self care", "02": "Discharged/transferred to a short-term general hospital",
    "03": "Discharged/transferred to a skilled nursing facility (SNF)",
    "06": "Discharged/transferred to home under care of a home health service organization",
    "07": "Left against medical advice or discontinued care", "09": "Admitted as an inpatient to this hospital",
    "20": "Expired", "62": "Discharged/transferred to an inpatient rehabilitation facility",
}
PANELS = {  # OBR-4
    "CBC": ("58410-2", "CBC panel - Blood by Automated count"),
    "BMP": ("51990-0", "Basic metabolic panel - Blood"),
}


@dataclass(frozen=True)
class Payer:
    plan_id: str
    plan_name: str
    company_id: str
    company_name: str
    address: tuple[str, str, str, str, str]
    area: str
    local: str
    plan_type: str


PAYERS = {
    "MCR": Payer("MCRA", "Medicare Part A", "CMS", "Medicare Part A", ("7500 Security Blvd", "", "Baltimore", "MD", "21244"), "800", "0133", "MC"),
    "BCBSWI": Payer("BCBSWI-PPO", "Badger Blue PPO", "BCBSWI", "Badger Blue Shield of Wisconsin", ("N17 W24222 Riverwood Dr", "", "Waukesha", "WI", "53188"), "800", "0144", "PPO"),
    "WIMCD": Payer("WIMCD", "Wisconsin Medicaid ForwardCare", "WIMCD", "ForwardCare Health Plan", ("1 W Wilson St", "", "Madison", "WI", "53703"), "800", "0155", "MCD"),
    "HARBOR": Payer("HHP-HMO", "Harbor Health Plan HMO", "HHP", "Harbor Health Plan", ("93 Worcester St", "Suite 400", "Wellesley", "MA", "02481"), "888", "0166", "HMO"),
    "PRAIRIE": Payer("PRA-EPO", "Prairie Mutual EPO", "PRAIRIE", "Prairie Mutual Insurance Co", ("300 E Randolph St", "", "Chicago", "IL", "60601"), "877", "0177", "EPO"),
    "ILMCO": Payer("ILMCO-1", "Lakefront Medicaid Managed Care", "ILMCO", "Lakefront Community Health Plan", ("200 W Adams St", "Floor 9", "Chicago", "IL", "60606"), "866", "0188", "MCD"),
    "FINGER": Payer("FLH-PPO", "Finger Lakes Health PPO", "FLHP", "Finger Lakes Health Plan", ("165 Court St", "", "Rochester", "NY", "14647"), "800", "0199", "PPO"),
    "EVERGRN": Payer("EVG-ADV", "Evergreen Medicare Advantage", "EVERGRN", "Evergreen Health Cooperative", ("1800 9th Ave", "", "Seattle", "WA", "98101"), "888", "0121", "MA"),
    "COLUMBIA": Payer("CRH-PPO", "Columbia River Health PPO", "CRHP", "Columbia River Health", ("601 W 1st Ave", "", "Spokane", "WA", "99201"), "800", "0132", "PPO"),
    "HARBORMA": Payer("HHP-MA", "Harbor Health Plan Medicare Advantage", "HHP", "Harbor Health Plan", ("93 Worcester St", "Suite 400", "Wellesley", "MA", "02481"), "888", "0168", "MA"),
}


@dataclass
class Encounter:
    file: str
    hosp: Hospital
    event: str                       # A01, A03, A04 (or R01 for the ORU)
    seq: int
    sent: datetime                   # MSH-7
    mrn: str
    name: tuple[str, ...]            # family, given, middle[, suffix, prefix]
    dob: date
    sex: str
    race: str
    ethnic: str
    address: tuple[str, str, str, str, str]
    phone: tuple[str, str]
    visit: str
    pclass: str                      # PV1-2
    adm_type: str                    # PV1-4
    location: tuple[str, str, str]
    service: str
    attending: Prov
    admit: datetime
    dx: list[tuple[str, str, str]]   # code, description, DG1-6 type
    member: str = ""
    payer: str = ""
    ssn: str = ""
    extra_ids: list[tuple[str, str, str]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)   # further PID-5 repetitions, ER7 text
    work_phone: tuple[str, str] | None = None
    email: str = ""
    language: str = "ENG^English^ISO6392"
    marital: str = "M"
    religion: str = ""
    pcp: Prov | None = None
    pcp_clinic: str = ""
    nk1: list[tuple[str, str, str, str]] = field(default_factory=list)  # name ER7, rel code, rel text, phone local
    admit_source: str = "7"
    referring: Prov | None = None
    fin_class: str = ""
    discharge: datetime | None = None
    disposition: str = ""
    discharged_to: str = ""
    admit_reason: str = ""
    px: list[tuple[str, str, str, datetime, Prov | None]] = field(default_factory=list)  # code, text, system, time, surgeon
    labs: list[tuple[str, str, str, datetime]] = field(default_factory=list)  # key, value, flag, time
    allergies: list[tuple[str, str, str, str]] = field(default_factory=list)  # type, code^text, severity, reaction
    guarantor: str = ""              # GT1-3 ER7 when not the patient
    guarantor_rel: str = "SEL^Self^HL70063"
    employer: str = ""
    insured: str = ""                # IN1-16 when not the patient
    insured_rel: str = "SEL^Self^HL70063"
    group: tuple[str, str] = ("", "")
    policy: str = ""                 # IN1-36
    z: dict[str, str] = field(default_factory=dict)
    # --- added with the second set of samples; the defaults reproduce the first set byte for byte
    note: str = ""                   # one line for the README
    shape: str = "full"              # full (ADT_A01/A03/A05/A06 layout), transfer (ADT_A02), cancel (ADT_A09/A12), merge (ADT_A39)
    event_time: datetime | None = None   # EVN-6 when it is neither the admission nor the discharge
    evn_reason: str = ""             # EVN-4 (table 0062)
    more_addresses: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)  # further PID-11, with XAD-7
    account: str | None = None       # PID-18 value; None: derived from the visit number; "": not sent
    preadmit: str = ""               # PV1-5
    prior_location: tuple[str, str, str] | None = None   # PV1-6
    readmission: str = ""            # PV1-13 (table 0092)
    patient_type: str = ""           # PV1-18 when not derived from PV1-2
    acct_status: str | None = None   # PV1-41 when not DISCH/ACTIVE ("" = not sent)
    planned: bool = False            # A05: PV1-44 not sent, PV2-8/PV2-9 are the expected admission/discharge
    expected_discharge: datetime | None = None
    los: bool = True                 # PV2-11 on an A03 (not for an ED visit)
    in1_end: date | None = None      # IN1-13
    mrg: tuple[str, str] | None = None   # A40: prior MRN (MRG-1), prior name ER7 (MRG-7)
    admitting: Prov | None = None    # PV1-17 when the attending has changed since the admission

    @property
    def insurance(self) -> bool:
        return bool(self.payer)


# --------------------------------------------------------------------------------------------
# Message builders
# --------------------------------------------------------------------------------------------

STRUCT = {"A01": "ADT_A01", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01", "R01": "ORU_R01",
          "A02": "ADT_A02", "A05": "ADT_A05", "A06": "ADT_A06", "A07": "ADT_A06", "A11": "ADT_A09",
          "A12": "ADT_A12", "A13": "ADT_A01", "A40": "ADT_A39"}


def build_msh(h: Hospital, e: Encounter, code: str) -> str:
    return msh_seg({
        3: h.app, 4: h.facility, 5: h.recv_app, 6: h.recv_fac, 7: h.msh_ts(e.sent),
        9: h.msg_type(code, e.event, STRUCT[e.event]), 10: h.control_id(e.sent, e.seq), 11: "P",
        12: h.version, 15: h.msh15, 16: h.msh16, 17: h.msh17, 18: h.msh18, 21: h.msh21})


def build_evn(h: Hospital, e: Encounter) -> str:
    when = e.event_time or (e.discharge if e.event == "A03" and e.discharge else e.admit)
    vals = {1: e.event if h.evn_code else "", 2: h.msh_ts(e.sent), 4: e.evn_reason, 5: e.z.get("operator", ""),
            6: h.ts(when)}
    if h.version != "2.3":
        vals[7] = h.facility
    return seg("EVN", vals)


def build_pid(h: Hospital, e: Encounter) -> str:
    ids = [h.cx(e.mrn, h.short, "MR")]
    if e.member:
        ids.append(h.cx(e.member, e.payer, "MB"))
    if e.ssn:
        ids.append(h.cx(e.ssn.replace("-", ""), h.ss_auth(), "SS"))
    ids += [h.cx(i, a, t) for i, a, t in e.extra_ids]
    names = [h.xpn(*e.name)] + e.aliases
    phones = [h.xtn(*e.phone)]
    if e.email and h.email(e.email):
        phones.append(h.email(e.email))
    account = ("A" + e.visit.lstrip("V")) if e.account is None else e.account
    vals = {
        1: "1", 3: "~".join(ids), 5: "~".join(names), 7: h.day(e.dob), 8: e.sex,
        10: h.race(e.race), 11: "~".join([h.xad(*e.address)] + [h.xad(*a) for a in e.more_addresses]),
        13: "~".join(phones),
        14: h.xtn(*e.work_phone, use="WPN") if e.work_phone else "",
        15: e.language if h.version != "2.3" else e.language.split("^")[0],
        16: e.marital, 17: e.religion,
        18: h.cx(account, h.short, "AN") if account else "",
        19: e.ssn if h.pid19_ssn else "", 22: h.ethnic(e.ethnic),
    }
    return seg("PID", vals)


def build_pd1(h: Hospital, e: Encounter) -> str:
    return seg("PD1", {3: h.org(e.pcp_clinic), 4: h.xcn(e.pcp) if e.pcp and not h.use_rol else ""})


def build_pv1(h: Hospital, e: Encounter) -> str:
    disch = e.event == "A03"
    vals = {
        1: "1", 2: e.pclass, 3: h.pl(*e.location), 4: e.adm_type, 7: h.xcn(e.attending),
        8: h.xcn(e.referring) if e.referring else "", 10: e.service, 14: e.admit_source,
        17: h.xcn(e.admitting or e.attending) if e.pclass == "I" and h.version < "2.5" else "", 18: e.pclass + "P" if e.pclass != "I" else "IN",
        19: h.cx(e.visit, h.short, "VN"), 20: e.fin_class,
        36: e.disposition if disch else "", 37: e.discharged_to if disch else "",
        39: h.short, 41: "DISCH" if disch else "ACTIVE", 44: h.ts(e.admit),
        45: h.ts(e.discharge) if disch and e.discharge else "",
    }
    if e.preadmit:
        vals[5] = e.preadmit
    if e.prior_location:
        vals[6] = h.pl(*e.prior_location)
    if e.readmission:
        vals[13] = e.readmission
    if e.patient_type:
        vals[18] = e.patient_type
    if e.acct_status is not None:
        vals[41] = e.acct_status
    if e.planned:
        vals[44] = ""
    return seg("PV1", vals)


def build_pv2(h: Hospital, e: Encounter) -> str:
    vals = {3: f"^{e.admit_reason}", 8: h.ts(e.admit)}
    if e.planned and e.expected_discharge:
        vals[9] = h.ts(e.expected_discharge)
    if e.event == "A03" and e.discharge:
        vals[9] = h.ts(e.discharge)
        if e.los:
            vals[11] = str(max(1, (e.discharge.date() - e.admit.date()).days))
    vals[12] = e.admit_reason
    if h.version >= "2.5":
        vals[38] = {"7": "AMB^Ambulance^HL70430", "1": "CAR^Car^HL70430"}.get(e.admit_source, "")
    return seg("PV2", vals)


def build_dg1(h: Hospital, e: Encounter, i: int, code: str, text: str, typ: str, prio: str | None = None) -> str:
    vals = {1: str(i), 2: "I10", 3: h.cwe(code, text, "I10"),
            5: h.ts(e.event_time if e.planned and e.event_time else e.admit), 6: typ}
    if h.version != "2.3":
        vals[15] = str(i) if prio is None else prio
    if h.key == "stbrigid":
        vals[16] = h.xcn(e.attending)
    if h.version >= "2.7":
        vals[2] = ""  # DG1-2 withdrawn
    return seg("DG1", vals)


def build_pr1(h: Hospital, e: Encounter, i: int, px) -> str:
    code, text, system, when, surgeon, *ftype = px   # optional 6th item: PR1-6 (table 0230)
    vals = {1: str(i), 2: "" if h.version >= "2.7" else system, 3: h.cwe(code, text, system),
            5: h.ts(when), 6: ftype[0] if ftype else ("P" if system != "C4" else "D")}
    if surgeon:
        vals[11] = h.xcn(surgeon)
    vals[14] = "1" if i == 1 else "2"
    return seg("PR1", vals)


def build_obx(h: Hospital, e: Encounter, i: int, lab) -> str:
    key, value, flag, when = lab
    loinc, long_name, unit, rr_f, rr_m = LABS[key]
    vals = {1: str(i), 2: "NM", 3: f"{loinc}^{long_name}^LN", 5: value, 6: h.units(unit),
            7: rr_f if e.sex == "F" else rr_m, 8: flag or "N", 11: "F", 14: h.ts(when)}
    if h.version >= "2.7":
        vals[23] = f"{h.short} Core Laboratory"
    return seg("OBX", vals)


def build_gt1(h: Hospital, e: Encounter) -> str:
    name = e.guarantor or h.xpn(*e.name)
    vals = {1: "1", 2: h.cx("G" + e.mrn[-6:], h.short, "GN"), 3: name, 5: h.xad(*e.address),
            6: h.xtn(*e.phone), 10: "P", 11: e.guarantor_rel, 16: e.employer}
    if not e.guarantor:
        vals.update({8: h.day(e.dob), 9: e.sex, 12: e.ssn if h.pid19_ssn else ""})
    return seg("GT1", vals)


def build_in1(h: Hospital, e: Encounter) -> str:
    p = PAYERS[e.payer]
    vals = {
        1: "1", 2: h.cwe(p.plan_id, p.plan_name, "L") if h.version != "2.3" else p.plan_id,
        3: h.cx(p.company_id, "NAIC", "NIIP") if h.version != "2.3" else p.company_id,
        4: p.company_name, 5: h.xad(*p.address, typ="B"), 7: h.xtn(p.area, p.local, use="WPN"),
        8: e.group[0], 9: e.group[1], 12: h.day(date(e.admit.year, 1, 1)),
        13: h.day(e.in1_end) if e.in1_end else "",
        15: p.plan_type, 16: e.insured or h.xpn(*e.name), 17: e.insured_rel,
        18: h.day(e.dob) if not e.insured else "", 19: h.xad(*e.address),
        20: "Y", 22: "1", 36: e.policy or e.member,
        49: h.cx(e.member, e.payer, "MB"),
    }
    return seg("IN1", vals)


def build_adt(e: Encounter) -> list[str]:
    h = e.hosp
    segs = [build_msh(h, e, "ADT"), build_evn(h, e), build_pid(h, e), build_pd1(h, e)]
    if h.use_rol and e.pcp:
        segs.append(seg("ROL", {1: f"{e.mrn}-PCP^{h.short}", 2: "UC", 3: "PP^Primary Care Provider^HL70443",
                                4: h.xcn(e.pcp)}))
    for i, (nm, rel, rel_text, local) in enumerate(e.nk1, 1):
        segs.append(seg("NK1", {1: str(i), 2: nm, 3: f"{rel}^{rel_text}^HL70063", 4: h.xad(*e.address),
                                5: h.xtn(e.phone[0], local), 7: "EC^Emergency Contact^HL70131"}))
    segs.append(build_pv1(h, e))
    segs += h.zsegs(e, "after_pv1")
    segs.append(build_pv2(h, e))
    for i, (typ, allergen, sev, reaction) in enumerate(e.allergies, 1):
        segs.append(seg("AL1", {1: str(i), 2: typ, 3: allergen, 4: sev, 5: reaction}))
    for i, dx in enumerate(e.dx, 1):
        segs.append(build_dg1(h, e, i, *dx))
    for i, px in enumerate(e.px, 1):
        segs.append(build_pr1(h, e, i, px))
    for i, lab in enumerate(e.labs, 1):
        segs.append(build_obx(h, e, i, lab))
    segs.append(build_gt1(h, e))
    if e.insurance:
        segs.append(build_in1(h, e))
    segs += h.zsegs(e, "after_in1")
    segs += h.zsegs(e, "end")
    return segs


def build_oru(e: Encounter, panels) -> list[str]:
    h = e.hosp
    segs = [build_msh(h, e, "ORU"), build_pid(h, e),
            seg("PV1", {1: "1", 2: e.pclass, 3: h.pl(*e.location), 7: h.xcn(e.attending),
                        19: h.cx(e.visit, h.short, "VN"), 44: h.ts(e.admit)})]
    for pi, (placer, filler, code, text, section, collected, resulted, results, note) in enumerate(panels, 1):
        segs.append(seg("ORC", {1: "RE", 2: f"{placer}^CVH-EHR", 3: f"{filler}^CVH-LAB", 5: "CM",
                                12: h.xcn(e.attending)}))
        segs.append(seg("OBR", {1: str(pi), 2: f"{placer}^CVH-EHR", 3: f"{filler}^CVH-LAB",
                                4: f"{code}^{text}^LN", 7: h.ts(collected), 16: h.xcn(e.attending),
                                22: h.ts(resulted), 24: section, 25: "F"}))
        for i, (key, value, flag) in enumerate(results, 1):
            segs.append(build_obx(h, e, i, (key, value, flag, collected)))
        if note:
            segs.append(seg("NTE", {1: "1", 2: "L", 3: note}))
    return segs


def build_transfer(e: Encounter) -> list[str]:
    """ADT_A02: no NK1, DG1, GT1 or IN1."""
    h = e.hosp
    segs = [build_msh(h, e, "ADT"), build_evn(h, e), build_pid(h, e), build_pd1(h, e), build_pv1(h, e)]
    segs += h.zsegs(e, "after_pv1")
    segs.append(build_pv2(h, e))
    return segs + h.zsegs(e, "end")


def build_cancel(e: Encounter) -> list[str]:
    """ADT_A09 (A11) and ADT_A12 (A12): PID, PD1, PV1, PV2 and (before v2.7) DG1."""
    h = e.hosp
    segs = [build_msh(h, e, "ADT"), build_evn(h, e), build_pid(h, e), build_pd1(h, e), build_pv1(h, e)]
    segs += h.zsegs(e, "after_pv1")
    segs.append(build_pv2(h, e))
    if h.version < "2.7":
        segs += [build_dg1(h, e, i, *dx) for i, dx in enumerate(e.dx, 1)]
    return segs + h.zsegs(e, "end")


def build_merge(e: Encounter) -> list[str]:
    """ADT_A39 (A40): PID with the surviving identifiers, MRG with the retired MRN, a bare PV1."""
    h = e.hosp
    prior_mrn, prior_name = e.mrg
    return [build_msh(h, e, "ADT"), build_evn(h, e), build_pid(h, e), build_pd1(h, e),
            seg("MRG", {1: h.cx(prior_mrn, h.short, "MR"), 7: prior_name}),
            seg("PV1", {1: "1", 2: e.pclass})]


def build_message(e: Encounter) -> list[str]:
    return {"full": build_adt, "transfer": build_transfer, "cancel": build_cancel, "merge": build_merge}[e.shape](e)


def lab_cwe(h: Hospital, key: str, loinc: str, long_name: str) -> str:
    """LOINC alone, or (senders with local lab codes) the local code first and LOINC second."""
    if key in h.lab_codes:
        code, text = h.lab_codes[key]
        return f"{code}^{text}^{h.lab_system}^{loinc}^{long_name}^LN"
    return f"{loinc}^{long_name}^LN"


def build_lab_oru(e: Encounter, panels, placer_app: str, filler_app: str) -> list[str]:
    """ORU_R01 for the second set: OBX-2 per result (NM or ST), local lab codes where the sender uses them."""
    h = e.hosp
    segs = [build_msh(h, e, "ORU"), build_pid(h, e),
            seg("PV1", {1: "1", 2: e.pclass, 3: h.pl(*e.location), 7: h.xcn(e.attending),
                        19: h.cx(e.visit, h.short, "VN"), 44: h.ts(e.admit)})]
    for pi, (placer, filler, panel, section, collected, resulted, results) in enumerate(panels, 1):
        segs.append(seg("ORC", {1: "RE", 2: f"{placer}^{placer_app}", 3: f"{filler}^{filler_app}", 5: "CM",
                                12: h.xcn(e.attending)}))
        segs.append(seg("OBR", {1: str(pi), 2: f"{placer}^{placer_app}", 3: f"{filler}^{filler_app}",
                                4: lab_cwe(h, panel, *PANELS[panel]), 7: h.ts(collected), 16: h.xcn(e.attending),
                                22: h.ts(resulted), 24: section, 25: "F"}))
        for i, (key, value, flag, vtype) in enumerate(results, 1):
            loinc, long_name, unit, rr_f, rr_m = LABS[key]
            vals = {1: str(i), 2: vtype, 3: lab_cwe(h, key, loinc, long_name), 5: value, 6: h.units(unit),
                    7: rr_f if e.sex == "F" else rr_m, 8: flag or "N", 11: "F", 14: h.ts(collected)}
            if h.version >= "2.7":
                vals[23] = f"{h.short} Core Laboratory"
            segs.append(seg("OBX", vals))
    return segs


# --------------------------------------------------------------------------------------------
# The encounters (all fictional)
# --------------------------------------------------------------------------------------------

def D(*a) -> datetime:
    return datetime(*a)


# Providers
P_WESTBROOK = Prov("004217", "WESTBROOK", "ALAN", "J")
P_LUNDQUIST = Prov("004388", "LUNDQUIST", "KAREN", "M")
P_HALVERSON = Prov("003951", "HALVERSON", "PETER", "T")
P_VUE = Prov("004602", "VUE", "MAI", "")
P_GALLAGHER = Prov("1386710294", "Gallagher", "Siobhan", "M")
P_OSEI = Prov("1740265318", "Osei", "Kwame", "A")
P_CALLAHAN = Prov("1093847215", "Callahan", "Brendan", "P")
P_RAMASWAMY = Prov("1346087521", "Ramaswamy", "Priya", "")
P_KIM = Prov("1912374650", "Kim", "Daniel", "H", "DO")
P_MORALES = Prov("1558203947", "Morales", "Elena", "C")
P_HUGHES = Prov("1629485730", "Hughes", "Margaret", "A")
P_BELLAMY = Prov("NCH0451", "Bellamy", "Thomas", "R")
P_DESANTIS = Prov("NCH0388", "DeSantis", "Laura", "", "DO")
P_ORTEGA = Prov("NCH0520", "Ortega", "Miguel", "A")
P_TANAKA = Prov("1578843920", "Tanaka", "Kenji", "")
P_OKAFOR = Prov("1477329105", "Adebayo", "Funmilayo", "O")
P_LARSEN = Prov("1835017264", "Larsen", "Ingrid", "S")

ENCOUNTERS: list[Encounter] = [
    # ---------------------------------------------------------------- Riverbend (v2.3)
    Encounter(
        file="riverbend_v23_A03_01.hl7", hosp=RIVERBEND, event="A03", seq=1, sent=D(2026, 11, 19, 11, 17),
        mrn="004418273", name=("HARTLEY", "EUGENE", "R"), dob=date(1948, 3, 12), sex="M", race="W", ethnic="N",
        address=("1187 BLUFF ST", "", "LA CROSSE", "WI", "54601"), phone=("608", "0143"),
        member="3WK7HX4PR82", payer="MCR", ssn="912-48-3371", religion="LUT", marital="W",
        pcp=P_LUNDQUIST, pcp_clinic="RIVERBEND FAMILY CLINIC",
        nk1=[("HARTLEY^DIANE^L", "CHD", "Child", "0161")],
        visit="V000418231", pclass="I", adm_type="E", location=("4W", "412", "B"), service="MED",
        attending=P_WESTBROOK, admit=D(2026, 11, 14, 18, 42), discharge=D(2026, 11, 19, 11, 15),
        disposition="06", fin_class="MC", admit_reason="SHORTNESS OF BREATH",
        dx=[("I50.23", "Acute on chronic systolic (congestive) heart failure", "A"),
            ("I11.0", "Hypertensive heart disease with heart failure", "F"),
            ("N17.9", "Acute kidney failure, unspecified", "F"),
            ("E87.1", "Hypo-osmolality and hyponatremia", "F")],
        px=[("02HV33Z", "Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach", "I10P",
             D(2026, 11, 15, 9, 30), P_HALVERSON)],
        labs=[("HGB", "11.2", "L", D(2026, 11, 19, 5, 45)), ("NA", "131", "L", D(2026, 11, 19, 5, 45)),
              ("BNP", "4820", "H", D(2026, 11, 14, 19, 5))],
        allergies=[("DA", "PCN^PENICILLIN^L", "MO", "HIVES")],
        z={"unit_type": "TELE", "dc_nurse": "KSCHULTZ", "readmit_risk": "HIGH", "operator": "HZIEGLER"},
    ),
    Encounter(
        file="riverbend_v23_A03_02.hl7", hosp=RIVERBEND, event="A03", seq=2, sent=D(2026, 11, 20, 14, 3),
        mrn="004502916", name=("KOWALCZYK", "DOROTA", "A"), dob=date(1961, 9, 30), sex="F", race="W", ethnic="N",
        address=(f"W2240 CTY RD K {E_T} HWY 21", "", "ONALASKA", "WI", "54650"), phone=("608", "0178"),
        work_phone=("608", "0179"), member="XEH884412907", payer="BCBSWI", ssn="923-17-5580", religion="CAT",
        pcp=P_LUNDQUIST, pcp_clinic="RIVERBEND FAMILY CLINIC",
        nk1=[("KOWALCZYK^MAREK", "SPO", "Spouse", "0178")],
        visit="V000418977", pclass="I", adm_type="E", location=("3E", "307", "A"), service="PUL",
        attending=P_HALVERSON, admit=D(2026, 11, 16, 2, 11), discharge=D(2026, 11, 20, 13, 50),
        disposition="01", fin_class="CO", admit_reason="COPD EXACERBATION",
        dx=[("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation", "A"),
            ("J18.9", "Pneumonia, unspecified organism", "F"),
            ("J96.01", "Acute respiratory failure with hypoxia", "F"),
            ("F17.210", "Nicotine dependence, cigarettes, uncomplicated", "F")],
        px=[("5A1935Z", "Respiratory Ventilation, Less than 24 Consecutive Hours", "I10P", D(2026, 11, 16, 3, 0), None)],
        labs=[("HGB", "13.1", "", D(2026, 11, 20, 6, 10)), ("NA", "138", "", D(2026, 11, 20, 6, 10)),
              ("WBC", "12.4", "H", D(2026, 11, 20, 6, 10))],
        employer=f"COULEE PRINT {E_T} PACKAGING", group=("88120", "COULEE PRINT"),
        z={"unit_type": "MEDSURG", "dc_nurse": "TBRAATEN", "readmit_risk": "MED", "operator": "JPEDERSON"},
    ),
    Encounter(
        file="riverbend_v23_A03_03.hl7", hosp=RIVERBEND, event="A03", seq=3, sent=D(2026, 11, 21, 10, 26),
        mrn="004611058", name=("THAO", "PA NOU", ""), dob=date(1996, 5, 2), sex="F", race="A", ethnic="N",
        address=("2318 LOSEY BLVD S", "APT 6", "LA CROSSE", "WI", "54601"), phone=("608", "0112"),
        member="WM2093317745", payer="WIMCD", ssn="934-62-1198", marital="M", language="HMN^Hmong^ISO6392",
        pcp=P_VUE, pcp_clinic="RIVERBEND WOMENS HEALTH",
        nk1=[("VANG^KOUA", "SPO", "Spouse", "0113")],
        visit="V000419402", pclass="I", adm_type="L", location=("LD", "214", "A"), service="OBS",
        attending=P_VUE, admit=D(2026, 11, 19, 4, 55), discharge=D(2026, 11, 21, 10, 20),
        disposition="01", fin_class="MD", admit_reason="LABOR", admit_source="1",
        dx=[("O80", "Encounter for full-term uncomplicated delivery", "F"),
            ("Z37.0", "Single live birth", "F"),
            ("Z3A.39", "39 weeks gestation of pregnancy", "F")],
        px=[("10E0XZZ", "Delivery of Products of Conception, External Approach", "I10P", D(2026, 11, 19, 16, 41), P_VUE)],
        labs=[("HGB", "10.6", "L", D(2026, 11, 20, 6, 0)), ("NA", "137", "", D(2026, 11, 20, 6, 0))],
        z={"unit_type": "OB", "dc_nurse": "AHERR", "readmit_risk": "LOW", "operator": "MKLEIN"},
    ),
    Encounter(
        file="riverbend_v23_A04_01.hl7", hosp=RIVERBEND, event="A04", seq=4, sent=D(2026, 11, 21, 7, 48),
        mrn="004620734", name=("JOHNSON", "TYRELL", "D"), dob=date(1979, 1, 23), sex="M", race="B", ethnic="N",
        address=("611 CAMERON AVE", "", "LA CROSSE", "WI", "54601"), phone=("608", "0125"),
        member="XEH551203884", payer="BCBSWI", ssn="945-30-2267", marital="S",
        pcp=P_LUNDQUIST, pcp_clinic="RIVERBEND FAMILY CLINIC",
        visit="V000419588", pclass="O", adm_type="R", location=("IMG", "MRI2", ""), service="RAD",
        attending=P_HALVERSON, referring=P_LUNDQUIST, admit=D(2026, 11, 21, 7, 45), admit_source="1",
        admit_reason="LEFT KNEE PAIN",
        dx=[("M17.12", "Unilateral primary osteoarthritis, left knee", "W")],
        employer="LA CROSSE AREA TRANSIT", group=("70415", "CITY OF LA CROSSE"),
        z={"unit_type": "OUTPT", "operator": "RSTEEN"},
    ),
    # ---------------------------------------------------------------- St. Brigid's (v2.4)
    Encounter(
        file="stbrigid_v24_A03_01.hl7", hosp=STBRIGID, event="A03", seq=1, sent=D(2026, 11, 18, 16, 22, 9),
        mrn="SB20938471", name=("Fitzgerald", "Margaret", "Anne"), dob=date(1939, 11, 5), sex="F", race="W", ethnic="N",
        aliases=["Fitzgerald^Peggy^^^^^N"],
        address=("48 Adams St", f"c/o Walsh {E_T} Fitzgerald", "Dorchester", "MA", "02122"), phone=("617", "0188"),
        member="HHP700392114", payer="HARBOR", ssn="956-08-4412", marital="W", religion="CAT",
        pcp=P_CALLAHAN, pcp_clinic="St. Brigid's Primary Care Associates",
        nk1=[("Walsh^Eileen^M", "CHD", "Child", "0189")],
        visit="4472019384", pclass="I", adm_type="E", location=("CCU", "6", "1"), service="CAR",
        attending=P_GALLAGHER, admit=D(2026, 11, 12, 21, 37, 44), discharge=D(2026, 11, 18, 15, 58, 0),
        disposition="03", discharged_to="Neponset Rehabilitation and Nursing Center", fin_class="HMO",
        admit_reason="CHEST PAIN",
        dx=[("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", "A"),
            ("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris", "F"),
            ("I48.91", "Unspecified atrial fibrillation", "F"),
            ("Z79.01", "Long term (current) use of anticoagulants", "F")],
        px=[("4A023N7", "Measurement of Cardiac Sampling and Pressure, Left Heart, Percutaneous Approach", "I10P",
             D(2026, 11, 13, 10, 5), P_OSEI),
            ("027034Z", "Dilation of Coronary Artery, One Artery with Drug-eluting Intraluminal Device, Percutaneous Approach",
             "I10P", D(2026, 11, 13, 10, 40), P_OSEI)],
        labs=[("HGB", "10.9", "L", D(2026, 11, 18, 5, 30)), ("NA", "134", "L", D(2026, 11, 18, 5, 30)),
              ("TROP", "2.31", "H", D(2026, 11, 12, 22, 15))],
        allergies=[("DA", "SULFA^Sulfonamide antibiotics^L", "MI", "Rash")],
        guarantor="Walsh^Eileen^M", guarantor_rel="CHD^Child^HL70063",
        z={"operator": "jmcnulty^McNulty^Joan"},
    ),
    Encounter(
        file="stbrigid_v24_A03_02.hl7", hosp=STBRIGID, event="A03", seq=2, sent=D(2026, 11, 20, 11, 5, 31),
        mrn="SB21175560", name=("Okafor", "Chinedu", "Emeka"), dob=date(1975, 7, 19), sex="M", race="B", ethnic="N",
        address=("1290 Commonwealth Ave", "Apt 3B", "Allston", "MA", "02134"), phone=("617", "0147"),
        work_phone=("617", "0148"), member="HHP811920057", payer="HARBOR", ssn="967-21-0934", marital="M",
        pcp=P_CALLAHAN, pcp_clinic="St. Brigid's Primary Care Associates",
        nk1=[("Okafor^Adaeze", "SPO", "Spouse", "0149")],
        visit="4472101127", pclass="I", adm_type="E", location=("7S", "714", "2"), service="SUR",
        attending=P_KIM, admit=D(2026, 11, 18, 23, 2, 18), discharge=D(2026, 11, 20, 10, 45, 0),
        disposition="01", fin_class="HMO", admit_reason="RLQ ABDOMINAL PAIN",
        dx=[("R10.31", "Right lower quadrant pain", "A"),
            ("K35.80", "Unspecified acute appendicitis", "F"),
            ("I10", "Essential (primary) hypertension", "F")],
        px=[("0DTJ4ZZ", "Resection of Appendix, Percutaneous Endoscopic Approach", "I10P", D(2026, 11, 19, 8, 12), P_KIM)],
        labs=[("WBC", "14.8", "H", D(2026, 11, 18, 23, 30)), ("HGB", "14.6", "", D(2026, 11, 20, 6, 0)),
              ("NA", "139", "", D(2026, 11, 20, 6, 0))],
        employer=f"Baxter {E_T} Lowe Logistics", group=("BL-22017", f"Baxter {E_T} Lowe Logistics"),
        z={"operator": "pnguyen^Nguyen^Paul"},
    ),
    Encounter(
        file="stbrigid_v24_A01_01.hl7", hosp=STBRIGID, event="A01", seq=3, sent=D(2026, 11, 21, 3, 14, 52),
        mrn="SB21203348", name=("Brennan", "Patrick", "Joseph", "Jr"), dob=date(1950, 2, 27), sex="M", race="W", ethnic="N",
        address=("77 Savin Hill Ave", "", "Dorchester", "MA", "02125"), phone=("617", "0171"),
        member="1TR4DM6XK19", payer="MCR", ssn="978-44-1206", marital="M",
        pcp=P_CALLAHAN, pcp_clinic="St. Brigid's Primary Care Associates",
        nk1=[("Brennan^Maureen", "SPO", "Spouse", "0171")],
        visit="4472133906", pclass="I", adm_type="E", location=("5N", "522", "1"), service="MED",
        attending=P_GALLAGHER, admit=D(2026, 11, 21, 3, 10, 0), fin_class="MC", admit_reason="SYNCOPE",
        dx=[("R55", "Syncope and collapse", "A"), ("I48.91", "Unspecified atrial fibrillation", "W")],
        labs=[("HGB", "12.7", "L", D(2026, 11, 21, 1, 55)), ("NA", "136", "", D(2026, 11, 21, 1, 55)),
              ("TROP", "0.02", "", D(2026, 11, 21, 1, 55))],
        z={"operator": "jmcnulty^McNulty^Joan"},
    ),
    # ---------------------------------------------------------------- Lakeshore (v2.5.1)
    Encounter(
        file="lakeshore_v251_A03_01.hl7", hosp=LAKESHORE, event="A03", seq=1, sent=D(2026, 11, 17, 15, 42, 7),
        mrn="LU00736152", name=("Nowak", "Teresa", "Marie"), dob=date(1956, 1, 28), sex="F", race="W", ethnic="N",
        aliases=["Kowal^Teresa^^^^^M"],
        address=("5420 S Archer Ave", "", "Chicago", "IL", "60638"), phone=("773", "0127"),
        email="t.nowak@example.com", member="PRA4410093871", payer="PRAIRIE", ssn="989-12-7731", marital="M",
        religion="CAT", pcp=P_MORALES, pcp_clinic="Lakeshore Southwest Primary Care",
        nk1=[("Nowak^Stanley^J", "SPO", "Spouse", "0127")],
        visit="LV10293847", pclass="I", adm_type="U", location=("5N", "5012", "A"), service="MED",
        attending=P_RAMASWAMY, admit=D(2026, 11, 13, 20, 18, 33), discharge=D(2026, 11, 17, 15, 30, 0),
        disposition="06", fin_class="COM", admit_reason="HYPERGLYCEMIA",
        dx=[("E11.65", "Type 2 diabetes mellitus with hyperglycemia", "A"),
            ("N17.9", "Acute kidney failure, unspecified", "F"),
            ("E86.0", "Dehydration", "F"),
            ("Z79.4", "Long term (current) use of insulin", "F")],
        px=[("02HV33Z", "Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach", "I10P",
             D(2026, 11, 14, 11, 20), P_RAMASWAMY)],
        labs=[("HGB", "12.2", "", D(2026, 11, 17, 6, 12)), ("NA", "141", "", D(2026, 11, 17, 6, 12)),
              ("GLU", "188", "H", D(2026, 11, 17, 6, 12)), ("CREA", "1.41", "H", D(2026, 11, 17, 6, 12))],
        employer="Chicago Public Schools", group=("G-300114", "CPS Retirees"),
    ),
    Encounter(
        file="lakeshore_v251_A03_02.hl7", hosp=LAKESHORE, event="A03", seq=2, sent=D(2026, 11, 19, 9, 8, 55),
        mrn="LU00812409", name=("Castellanos Ruiz", "Luis", "Alberto"), dob=date(1982, 12, 3), sex="M", race="O",
        ethnic="H", address=("3118 W 26th St", "Apt 2F", "Chicago", "IL", "60623"), phone=("773", "0164"),
        member="LCH20550671", payer="ILMCO", ssn="901-55-2093", marital="S", language="SPA^Spanish^ISO6392",
        pcp=P_MORALES, pcp_clinic="Lakeshore Little Village Clinic",
        nk1=[("Ruiz^Guadalupe", "MTH", "Mother", "0165")],
        visit="LV10311562", pclass="I", adm_type="E", location=("6W", "6104", "B"), service="MED",
        attending=P_HUGHES, admit=D(2026, 11, 15, 17, 44, 2), discharge=D(2026, 11, 19, 8, 55, 0),
        disposition="01", fin_class="MCD", admit_reason="FEVER AND DYSURIA",
        dx=[("A41.9", "Sepsis, unspecified organism", "A"),
            ("N39.0", "Urinary tract infection, site not specified", "F"),
            ("R65.20", "Severe sepsis without septic shock", "F"),
            ("E87.1", "Hypo-osmolality and hyponatremia", "F")],
        px=[("02HV33Z", "Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach", "I10P",
             D(2026, 11, 15, 21, 5), P_HUGHES)],
        labs=[("HGB", "13.9", "", D(2026, 11, 19, 5, 40)), ("NA", "133", "L", D(2026, 11, 19, 5, 40)),
              ("LACT", "1.4", "", D(2026, 11, 19, 5, 40)), ("WBC", "9.8", "", D(2026, 11, 19, 5, 40))],
        guarantor="Ruiz^Guadalupe", guarantor_rel="MTH^Mother^HL70063",
    ),
    Encounter(
        file="lakeshore_v251_A03_03.hl7", hosp=LAKESHORE, event="A03", seq=3, sent=D(2026, 11, 21, 13, 2, 40),
        mrn="LU00450987", name=("Washington", "Deborah", "Lynn"), dob=date(1944, 6, 14), sex="F", race="B", ethnic="N",
        address=(f"8800 S Stony Island Ave {E_S} Unit 4", "", "Chicago", "IL", "60617"), phone=("773", "0191"),
        member="2PF6KA3NW47", payer="MCR", ssn="912-73-0458", marital="W", religion="BAP",
        pcp=P_HUGHES, pcp_clinic="Lakeshore South Shore Primary Care",
        nk1=[("Washington-Price^Angela", "CHD", "Child", "0192")],
        visit="LV10330095", pclass="I", adm_type="E", location=("4S", "4220", "A"), service="NEU",
        attending=P_RAMASWAMY, admit=D(2026, 11, 16, 10, 27, 11), discharge=D(2026, 11, 21, 12, 45, 0),
        disposition="62", discharged_to="Lakeshore Rehabilitation Institute", fin_class="MCR",
        admit_reason="RIGHT SIDED WEAKNESS",
        dx=[("I63.9", "Cerebral infarction, unspecified", "A"),
            ("R47.01", "Aphasia", "F"),
            ("I48.91", "Unspecified atrial fibrillation", "F"),
            ("I10", "Essential (primary) hypertension", "F")],
        px=[("B030ZZZ", "Magnetic Resonance Imaging (MRI) of Brain", "I10P", D(2026, 11, 16, 13, 5), None)],
        labs=[("HGB", "12.8", "", D(2026, 11, 21, 6, 0)), ("NA", "140", "", D(2026, 11, 21, 6, 0)),
              ("GLU", "104", "H", D(2026, 11, 21, 6, 0))],
        allergies=[("DA", "ASA^Aspirin^L", "SV", "Angioedema")],
        guarantor="Washington-Price^Angela", guarantor_rel="CHD^Child^HL70063",
    ),
    Encounter(
        file="lakeshore_v251_A01_01.hl7", hosp=LAKESHORE, event="A01", seq=4, sent=D(2026, 11, 21, 22, 51, 19),
        mrn="LU00903311", name=("Adeyemi", "Folake", "O"), dob=date(1987, 4, 9), sex="F", race="B", ethnic="N",
        address=("1455 N Sandburg Ter", "Apt 1907", "Chicago", "IL", "60610"), phone=("312", "0138"),
        email="folake.adeyemi@example.org", member="PRA5521098346", payer="PRAIRIE", ssn="923-88-1040", marital="S",
        pcp=P_MORALES, pcp_clinic="Lakeshore Gold Coast Primary Care",
        nk1=[("Adeyemi^Tunde", "BRO", "Brother", "0139")],
        visit="LV10345120", pclass="I", adm_type="E", location=("5N", "5018", "B"), service="PUL",
        attending=P_HUGHES, admit=D(2026, 11, 21, 22, 40, 0), fin_class="COM", admit_reason="ASTHMA ATTACK",
        dx=[("J45.901", "Unspecified asthma with (acute) exacerbation", "A")],
        labs=[("WBC", "11.6", "H", D(2026, 11, 21, 21, 15)), ("NA", "138", "", D(2026, 11, 21, 21, 15))],
        employer="Meridian Analytics LLC", group=("G-551870", "Meridian Analytics"),
    ),
    # ---------------------------------------------------------------- Northfield (v2.6)
    Encounter(
        file="northfield_v26_A03_01.hl7", hosp=NORTHFIELD, event="A03", seq=1, sent=D(2026, 11, 18, 12, 34, 56),
        mrn="M000481230", name=("Delgado", "Rosa", "Isabel"), dob=date(1968, 4, 22), sex="F", race="W", ethnic="H",
        extra_ids=[("NCH0017720", "NCH", "PI")],
        address=("22 Lake Ave", f"Apt 2{E_S}B", "Rochester", "NY", "14608"), phone=("585", "0114"),
        member="FLH90022871", payer="FINGER", ssn="934-01-6675", marital="D", language="SPA^Spanish^ISO6392",
        pcp=P_DESANTIS, pcp_clinic="Northfield Family Medicine",
        nk1=[("Delgado^Marisol", "CHD", "Child", "0115")],
        visit="V00772201", pclass="I", adm_type="U", location=("2S", "218", "1"), service="SUR",
        attending=P_ORTEGA, admit=D(2026, 11, 16, 14, 8), discharge=D(2026, 11, 18, 12, 30),
        disposition="01", fin_class="PPO", admit_reason="RUQ PAIN",
        dx=[("K80.00", "Calculus of gallbladder with acute cholecystitis without obstruction", "A"),
            ("E66.9", "Obesity, unspecified", "F"),
            ("K80.00", "Calculus of gallbladder with acute cholecystitis without obstruction", "F")],
        px=[("0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", "I10P", D(2026, 11, 17, 9, 15), P_ORTEGA)],
        labs=[("HGB", "12.9", "", D(2026, 11, 18, 5, 55)), ("NA", "139", "", D(2026, 11, 18, 5, 55)),
              ("WBC", "10.1", "", D(2026, 11, 18, 5, 55))],
        employer="Genesee Valley Foods", group=("GV-1180", "Genesee Valley Foods"),
        z={"acuity": "3", "isolation": "N", "fall_risk": "LOW", "auth": "FLH-AUTH-5530192", "operator": "MT.RCARR"},
    ),
    Encounter(
        file="northfield_v26_A03_02.hl7", hosp=NORTHFIELD, event="A03", seq=2, sent=D(2026, 11, 20, 15, 12, 3),
        mrn="M000392817", name=("MacAllister", "Duncan", "James"), dob=date(1953, 10, 9), sex="M", race="W", ethnic="N",
        extra_ids=[("NCH0009931", "NCH", "PI")],
        address=("140 Oakbridge Dr", "", "Pittsford", "NY", "14534"), phone=("585", "0156"),
        work_phone=("585", "0157"), member="5EM8QW2TA60", payer="MCR", ssn="945-67-2210", marital="M",
        pcp=P_DESANTIS, pcp_clinic="Northfield Family Medicine",
        nk1=[("MacAllister^Fiona", "SPO", "Spouse", "0156")],
        visit="V00771875", pclass="I", adm_type="C", location=("ORTH", "304", "2"), service="ORT",
        attending=P_BELLAMY, admit=D(2026, 11, 17, 6, 30), discharge=D(2026, 11, 20, 15, 0),
        disposition="06", fin_class="MCR", admit_reason="ELECTIVE RIGHT TKA", admit_source="1",
        dx=[("M17.11", "Unilateral primary osteoarthritis, right knee", "A"),
            ("M17.11", "Unilateral primary osteoarthritis, right knee", "F"),
            ("D62", "Acute posthemorrhagic anemia", "F"),
            ("Z87.891", "Personal history of nicotine dependence", "F")],
        px=[("0SRC0J9", "Replacement of Right Knee Joint with Synthetic Substitute, Cemented, Open Approach", "I10P",
             D(2026, 11, 17, 8, 5), P_BELLAMY),
            ("30233N1", "Transfusion of Nonautologous Red Blood Cells into Peripheral Vein, Percutaneous Approach",
             "I10P", D(2026, 11, 18, 14, 0), None)],
        labs=[("HGB", "8.9", "L", D(2026, 11, 18, 5, 30)), ("HGB", "10.2", "L", D(2026, 11, 20, 5, 30)),
              ("NA", "137", "", D(2026, 11, 20, 5, 30))],
        z={"acuity": "2", "isolation": "N", "fall_risk": "HIGH", "auth": "", "operator": "MT.JWHEELER"},
    ),
    Encounter(
        file="northfield_v26_A04_01.hl7", hosp=NORTHFIELD, event="A04", seq=3, sent=D(2026, 11, 21, 19, 6, 44),
        mrn="M000529904", name=("Patel", "Anjali", ""), dob=date(2001, 8, 30), sex="F", race="A", ethnic="N",
        address=("395 Alexander St", "Apt 12", "Rochester", "NY", "14607"), phone=("585", "0183"),
        member="FLH90388214", payer="FINGER", ssn="956-32-8801", marital="S",
        nk1=[("Patel^Rakesh", "FTH", "Father", "0184")],
        visit="V00774410", pclass="E", adm_type="E", location=("ED", "TR4", ""), service="EMR",
        attending=P_DESANTIS, admit=D(2026, 11, 21, 19, 2), admit_reason="HEAD INJURY FALL ON ICE",
        dx=[("S06.0X0A", "Concussion without loss of consciousness, initial encounter", "W")],
        insured="Patel^Rakesh", insured_rel="FTH^Father^HL70063", policy="FLH90388200",
        guarantor="Patel^Rakesh", guarantor_rel="FTH^Father^HL70063",
        z={"acuity": "4", "isolation": "N", "fall_risk": "MED", "auth": "", "operator": "MT.EDREG2"},
    ),
    # ---------------------------------------------------------------- Cascadia (v2.8)
    Encounter(
        file="cascadia_v28_A03_01.hl7", hosp=CASCADIA, event="A03", seq=1, sent=D(2026, 11, 20, 16, 48, 12, 318000),
        mrn="CV3309127", name=("Nguyễn", "Hoa", "Thị"), dob=date(1958, 2, 17), sex="F", race="A", ethnic="N",
        aliases=["Nguyen^Hoa^Thi^^^^A"],
        address=("2204 Cooper Point Rd NW", "", "Olympia", "WA", "98502"), phone=("360", "0178"),
        member="EVG771204938", payer="EVERGRN", ssn="967-05-3316", marital="W", language="VIE^Vietnamese^ISO6392",
        pcp=P_TANAKA, pcp_clinic="Cascadia Westside Clinic",
        nk1=[("Trần^Minh^Quang", "CHD", "Child", "0179")],
        visit="CVE55012873", pclass="I", adm_type="E", location=("ICU", "12", "A"), service="MED",
        attending=P_LARSEN, admit=D(2026, 11, 10, 23, 5, 40, 112000), discharge=D(2026, 11, 20, 16, 30, 0, 0),
        disposition="03", discharged_to="Capitol Hill Skilled Nursing", fin_class="MA",
        admit_reason="RESPIRATORY DISTRESS",
        dx=[("U07.1", "COVID-19", "A"),
            ("J12.82", "Pneumonia due to coronavirus disease 2019", "F"),
            ("J96.01", "Acute respiratory failure with hypoxia", "F"),
            ("E11.9", "Type 2 diabetes mellitus without complications", "F")],
        px=[("0BH17EZ", "Insertion of Endotracheal Airway into Trachea, Via Natural or Artificial Opening", "I10P",
             D(2026, 11, 11, 2, 20), P_LARSEN),
            ("5A1945Z", "Respiratory Ventilation, 24-96 Consecutive Hours", "I10P", D(2026, 11, 11, 2, 30), None)],
        labs=[("HGB", "11.8", "L", D(2026, 11, 20, 5, 0)), ("NA", "135", "L", D(2026, 11, 20, 5, 0))],
        guarantor="Trần^Minh^Quang", guarantor_rel="CHD^Child^HL70063",
    ),
    Encounter(
        file="cascadia_v28_A03_02.hl7", hosp=CASCADIA, event="A03", seq=2, sent=D(2026, 11, 21, 9, 12, 5, 47000),
        mrn="CV2981456", name=("Lindqvist", "Erik", "Johan"), dob=date(1971, 8, 8), sex="M", race="W", ethnic="N",
        address=("615 Legion Way SE", "", "Olympia", "WA", "98501"), phone=("360", "0145"),
        email="erik.lindqvist@example.net", member="CRH440192855", payer="COLUMBIA", ssn="978-90-1123", marital="D",
        pcp=P_TANAKA, pcp_clinic="Cascadia Eastside Clinic",
        nk1=[("Lindqvist^Astrid", "SIS", "Sister", "0146")],
        visit="CVE55031190", pclass="I", adm_type="E", location=("3W", "318", "B"), service="GI",
        attending=P_OKAFOR, admit=D(2026, 11, 18, 19, 51, 3, 650000), discharge=D(2026, 11, 21, 8, 40, 0, 0),
        disposition="07", fin_class="COM", admit_reason="ABDOMINAL DISTENSION",
        dx=[("K70.31", "Alcoholic cirrhosis of liver with ascites", "A"),
            ("F10.20", "Alcohol dependence, uncomplicated", "F"),
            ("D64.9", "Anemia, unspecified", "F")],
        px=[("0W9G3ZZ", "Drainage of Peritoneal Cavity, Percutaneous Approach", "I10P", D(2026, 11, 19, 10, 15), P_OKAFOR)],
        labs=[("HGB", "9.7", "L", D(2026, 11, 21, 5, 20)), ("NA", "129", "L", D(2026, 11, 21, 5, 20)),
              ("PLT", "88", "L", D(2026, 11, 21, 5, 20))],
        employer="Olympia Marine Supply", group=("OMS-0412", "Olympia Marine Supply"),
    ),
]

ORU_ENCOUNTER = Encounter(
    file="cascadia_v28_ORU_R01_01.hl7", hosp=CASCADIA, event="R01", seq=3, sent=D(2026, 11, 21, 6, 2, 44, 901000),
    mrn="CV2981456", name=("Lindqvist", "Erik", "Johan"), dob=date(1971, 8, 8), sex="M", race="W", ethnic="N",
    address=("615 Legion Way SE", "", "Olympia", "WA", "98501"), phone=("360", "0145"),
    member="CRH440192855", payer="COLUMBIA", ssn="978-90-1123", marital="D",
    visit="CVE55031190", pclass="I", adm_type="E", location=("3W", "318", "B"), service="GI",
    attending=P_OKAFOR, admit=D(2026, 11, 18, 19, 51, 3, 650000), dx=[],
)
ORU_PANELS = [
    ("ORD7730211", "L26112104510", "58410-2", "CBC panel - Blood by Automated count", "HM",
     D(2026, 11, 21, 5, 20), D(2026, 11, 21, 5, 58, 12),
     [("WBC", "6.1", "N"), ("HGB", "9.7", "L"), ("HCT", "29.4", "L"), ("PLT", "88", "L")],
     "Platelet count verified by smear review."),
    ("ORD7730212", "L26112104511", "51990-0", "Basic metabolic panel - Blood", "CH",
     D(2026, 11, 21, 5, 20), D(2026, 11, 21, 6, 1, 30),
     [("NA", "129", "L"), ("K", "3.4", "L"), ("CL", "96", "L"), ("CO2", "24", "N"), ("BUN", "9", "N"),
      ("CREA", "0.82", "N"), ("GLU", "112", "H")],
     ""),
]


# --------------------------------------------------------------------------------------------
# Second set: visit life cycles, cancels, a merge, lab results and odd cases for the v2 -> FHIR
# mapper. The earlier encounters above are reused (dataclasses.replace) where a message belongs
# to the same patient or visit, so identifiers and demographics agree across files.
# --------------------------------------------------------------------------------------------

P_NAKAMURA = Prov("1620374185", "Nakamura", "Emi", "R")         # St. Brigid's hospitalist
P_ESCALANTE = Prov("1482639758", "Escalante", "Rafael", "M")    # Sonoran Campus emergency physician
P_MWANGI = Prov("1357920465", "Mwangi", "Grace", "W")           # Cascadia orthopaedic surgeon
P_SKAAR = Prov("004791", "SKAAR", "NILS", "O")                  # Riverbend interventional cardiologist
P_WHITAKER = Prov("NCH0612", "Whitaker", "Joanne", "E")         # Northfield hospitalist

BY_FILE = {e.file: e for e in ENCOUNTERS}

# ---- 1. One complete stay at St. Brigid's (v2.4, no offsets, America/New_York): A01 -> A02 -> A08 -> A03.
# Admitted on 2026-10-29 (EDT, -04:00), discharged on 2026-11-04 (EST, -05:00): DST ends on 2026-11-01.
DOHERTY_A01 = Encounter(
    file="stbrigid_v24_A01_02.hl7", hosp=STBRIGID, event="A01", seq=4, sent=D(2026, 10, 29, 16, 40, 12),
    mrn="SB21288734", name=("Doherty", "Francis", "Xavier"), dob=date(1947, 6, 3), sex="M", race="W", ethnic="N",
    address=("130 Dorchester Ave", "Marian House Apt 411", "South Boston", "MA", "02127"), phone=("617", "0152"),
    member="HMA300481772", payer="HARBORMA", ssn="987-36-4419", extra_ids=[("7TQ2GD5VH38", "CMS", "MC")],
    marital="W", religion="CAT", pcp=P_CALLAHAN, pcp_clinic="St. Brigid's Primary Care Associates",
    nk1=[("Doherty-Lynch^Ciara", "CHD", "Child", "0153")],
    visit="4471782215", pclass="I", adm_type="U", location=("CCU", "4", "1"), service="CAR",
    attending=P_GALLAGHER, admit=D(2026, 10, 29, 16, 25, 0), admit_source="1", readmission="R",
    fin_class="MA", admit_reason="CHF EXACERBATION", in1_end=date(2026, 12, 31),
    dx=[("R06.00", "Dyspnea, unspecified", "A", "1"),
        ("I50.33", "Acute on chronic diastolic (congestive) heart failure", "W", "2")],
    labs=[("BNP", "3410", "H", D(2026, 10, 29, 15, 2)), ("NA", "134", "L", D(2026, 10, 29, 15, 2))],
    z={"operator": "kobrien^O'Brien^Kathleen"},
    note="1/4 of one stay: urgent direct admission from the PCP's office (PV1-4 U, PV1-14 1) to CCU; a readmission "
         "(PV1-13 R); PID-3 holds MRN, plan member id, SSN and MBI (authority CMS, type MC); no offsets, "
         "America/New_York gives -04:00 (EDT)",
)
DOHERTY_A02 = replace(
    DOHERTY_A01, file="stbrigid_v24_A02_01.hl7", event="A02", seq=5, sent=D(2026, 10, 31, 10, 7, 45),
    shape="transfer", event_time=D(2026, 10, 31, 9, 55, 0), location=("5N", "521", "1"),
    prior_location=("CCU", "4", "1"), attending=P_NAKAMURA, admitting=P_GALLAGHER, service="MED", dx=[], labs=[],
    note="2/4: transfer CCU -> 5N (PV1-3 new bed, PV1-6 prior bed, EVN-6 transfer time), attending changes to "
         "the hospitalist; same PV1-19",
)
DOHERTY_A08 = replace(
    DOHERTY_A02, file="stbrigid_v24_A08_01.hl7", event="A08", seq=6, sent=D(2026, 11, 2, 14, 12, 30),
    shape="full", event_time=D(2026, 11, 2, 14, 10, 0), prior_location=None,
    phone=("617", "0155"), nk1=DOHERTY_A01.nk1 + [("Doherty^Sean^P", "CHD", "Child", "0154")],
    dx=[("R06.00", "Dyspnea, unspecified", "A", "1"),
        ("I50.33", "Acute on chronic diastolic (congestive) heart failure", "W", "2"),
        ("N17.9", "Acute kidney failure, unspecified", "W", "3"),
        ("N18.31", "Chronic kidney disease, stage 3a", "W", "4")],
    note="3/4: update after the end of DST (no offsets: -05:00 now): new home phone, a second NK1, more "
         "working diagnoses",
)
DOHERTY_A03 = replace(
    DOHERTY_A08, file="stbrigid_v24_A03_03.hl7", event="A03", seq=8, sent=D(2026, 11, 4, 11, 52, 3),
    event_time=None, discharge=D(2026, 11, 4, 11, 40, 0), disposition="06",
    dx=[("R06.00", "Dyspnea, unspecified", "A", "0"),
        ("I13.0", "Hypertensive heart and chronic kidney disease with heart failure and stage 1 through stage 4 "
                  "chronic kidney disease, or unspecified chronic kidney disease", "F", "1"),
        ("I50.33", "Acute on chronic diastolic (congestive) heart failure", "F", "2"),
        ("N18.31", "Chronic kidney disease, stage 3a", "F", "3"),
        ("N17.9", "Acute kidney failure, unspecified", "W", "0")],
    px=[("93306", "Transthoracic echocardiogram, complete, with Doppler", "C4", D(2026, 10, 30, 10, 20), None),
        ("4A023N6", "Measurement of Cardiac Sampling and Pressure, Right Heart, Percutaneous Approach", "I10P",
         D(2026, 10, 31, 8, 15), P_OSEI)],
    note="4/4: discharge home with home health (PV1-36 06), PV1-44 in EDT and PV1-45 in EST, PV2-11 6; DG1-6 "
         "A/F/W with DG1-15 1..3 for the final ones and 0 (not ranked) for A and W; PR1 CPT (C4) and ICD-10-PCS; "
         "IN1-12/13, IN1-49 plan member id",
)
DOHERTY_ORU = replace(DOHERTY_A08, file="stbrigid_v24_ORU_R01_01.hl7", event="R01", seq=7,
                      sent=D(2026, 11, 4, 6, 31, 20),
                      note="discharge-morning labs of the St. Brigid's stay: haemoglobin NM, sodium/potassium/"
                           "creatinine as ST (the chemistry middleware sends strings); OBX-14, OBX-7, OBX-8; no offsets")
DOHERTY_PANELS = [
    ("SBO2611040233", "SBL2611040233", "CBC", "HM", D(2026, 11, 4, 5, 40), D(2026, 11, 4, 6, 12),
     [("HGB", "11.1", "L", "NM"), ("HCT", "33.9", "L", "NM")]),
    ("SBO2611040234", "SBL2611040234", "BMP", "CH", D(2026, 11, 4, 5, 40), D(2026, 11, 4, 6, 28),
     [("NA", "133", "L", "ST"), ("K", "4.1", "N", "ST"), ("CREA", "1.52", "H", "ST")]),
]

# ---- 2. ED registration and ED discharge at Lakeshore's Sonoran Campus (America/Phoenix, no offsets).
# 2026-10-25 is before the end of DST: Phoenix is -07:00 while Denver is -06:00 and Chicago -05:00.
NOWAK = BY_FILE["lakeshore_v251_A03_01.hl7"]
NOWAK_ED = replace(
    NOWAK, file="lakeshore_v251_A04_01.hl7", hosp=LUHSC, event="A04", seq=1, sent=D(2026, 10, 25, 19, 48, 31),
    mrn="SC0048213", extra_ids=[("LU00736152", "LUH", "MR"), ("4HN9FR2XK61", "CMS", "MC")], aliases=[],
    more_addresses=[("8920 E Saguaro Bloom Dr", "Unit 1042", "Scottsdale", "AZ", "85258", "C")],
    email="", visit="E2610250417", pclass="E", adm_type="E", location=("ED", "12", ""), service="EMR",
    attending=P_ESCALANTE, admit=D(2026, 10, 25, 19, 42, 10), discharge=None, disposition="",
    admit_source="7", admit_reason="CONFUSION LOW BLOOD SUGAR",
    dx=[("E16.2", "Hypoglycemia, unspecified", "W")], px=[], labs=[],
    note="ED registration (PV1-2 E) of a Chicago patient wintering in Arizona: PID-3 campus MRN (LUHSC), "
         "enterprise MRN (LUH, same as lakeshore_v251_A03_01.hl7), SSN, MBI (CMS); PID-11 home address and a "
         "temporary (C) address with two street lines; no offsets, America/Phoenix (-07:00)",
)
NOWAK_ED_DC = replace(
    NOWAK_ED, file="lakeshore_v251_A03_04.hl7", event="A03", seq=2, sent=D(2026, 10, 25, 23, 7, 55),
    discharge=D(2026, 10, 25, 23, 5, 0), disposition="HOM", los=False,
    dx=[("R41.82", "Altered mental status, unspecified", "A"),
        ("E11.649", "Type 2 diabetes mellitus with hypoglycemia without coma", "F"),
        ("Z79.4", "Long term (current) use of insulin", "F")],
    px=[("99284", "Emergency department visit, moderate complexity", "C4", D(2026, 10, 25, 19, 55), P_ESCALANTE, "D")],
    labs=[("GLU", "48", "LL", D(2026, 10, 25, 19, 50))],
    note="ED discharge of the same visit: local disposition HOM in PV1-36 (per-sender table: NUBC 01), no PV2-11",
)

# ---- 3. Pre-admission and class changes.
HALVORSEN_A05 = Encounter(
    file="cascadia_v28_A05_01.hl7", hosp=CASCADIA, event="A05", seq=4, sent=D(2026, 11, 16, 10, 22, 31, 402000),
    mrn="CV3410582", name=("Halvorsen", "Dagny", "Ruth"), dob=date(1952, 5, 19), sex="F", race="W", ethnic="N",
    address=("3318 Boston Harbor Rd NE", "", "Olympia", "WA", "98506"), phone=("360", "0117"),
    email="dagny.halvorsen@example.com", member="EVG771388120", payer="EVERGRN", ssn="992-60-1437", marital="M",
    pcp=P_TANAKA, pcp_clinic="Cascadia Westside Clinic", nk1=[("Halvorsen^Per^A", "SPO", "Spouse", "0117")],
    visit="CVE55098431", pclass="P", adm_type="C", location=("ORTH", "420", "A"), service="ORT",
    attending=P_MWANGI, admit=D(2026, 12, 7, 6, 0, 0), planned=True, expected_discharge=D(2026, 12, 9, 11, 0, 0),
    preadmit="PA2612070042", event_time=D(2026, 11, 16, 10, 20, 0), patient_type="IN", acct_status="PREADMIT",
    fin_class="MA", admit_reason="ELECTIVE RIGHT THA", admit_source="1",
    dx=[("M16.11", "Unilateral primary osteoarthritis, right hip", "W")],
    px=[("27130", "Total hip arthroplasty", "C4", D(2026, 12, 7, 7, 30, 0), P_MWANGI, "P")],
    note="pre-admission (PV1-2 P, PV1-4 C) for an elective hip replacement on 2026-12-07: PV1-5 preadmit number, "
         "no PV1-44, PV2-8/PV2-9 expected admission and discharge, planned PR1 (CPT)",
)
QUINLAN_OBS = Encounter(
    file="northfield_v26_A04_02.hl7", hosp=NORTHFIELD, event="A04", seq=4, sent=D(2026, 11, 20, 0, 3, 17),
    mrn="M000534468", name=(f"Ferris {E_T} Quinlan", "Bridget", "Ann"), dob=date(1949, 12, 11), sex="F", race="W",
    ethnic="N", extra_ids=[("NCH0021486", "NCH", "PI")],
    address=("87 Mt Hope Ave", "Bldg C Apt 14", "Rochester", "NY", "14620"), phone=("585", "0128"),
    member="8VK5TE3WN19", payer="MCR", ssn="991-27-6054", marital="W",
    pcp=P_DESANTIS, pcp_clinic="Northfield Family Medicine", nk1=[("Quinlan^Maeve", "CHD", "Child", "0129")],
    visit="V00774198", pclass="OBS", adm_type="E", location=("OBU", "6", "A"), service="MED",
    attending=P_WHITAKER, admit=D(2026, 11, 19, 23, 55), patient_type="OP", fin_class="MCR",
    admit_reason="CHEST PAIN", dx=[("R07.89", "Other chest pain", "W")],
    z={"acuity": "3", "isolation": "N", "fall_risk": "HIGH", "auth": "", "operator": "MT.EDREG1"},
    note="observation registration from the ED with the local patient class OBS (-> OBSENC); family name with "
         "\\T\\ (decodes to `Ferris & Quinlan`); PID-11 with two street lines",
)
QUINLAN_A06 = replace(
    QUINLAN_OBS, file="northfield_v26_A06_01.hl7", event="A06", seq=5, sent=D(2026, 11, 21, 9, 34, 2),
    pclass="I", patient_type="", location=("3N", "312", "1"), prior_location=("OBU", "6", "A"),
    admit=D(2026, 11, 21, 9, 30), event_time=D(2026, 11, 21, 9, 30),
    dx=[("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", "A"), ("R07.89", "Other chest pain", "W")],
    z={"acuity": "2", "isolation": "N", "fall_risk": "HIGH", "auth": "", "operator": "MT.UR1"},
    note="the same visit changed from observation (OBS) to inpatient (PV1-2 I), PV1-6 the observation bed, "
         "PV1-44 the inpatient admission time; same PV1-19",
)
BRATEN_A07 = Encounter(
    file="riverbend_v23_A07_01.hl7", hosp=RIVERBEND, event="A07", seq=7, sent=D(2026, 11, 21, 8, 26),
    mrn="004633519", name=("BRATEN", "GARY", "L"), dob=date(1958, 10, 2), sex="M", race="W", ethnic="N",
    address=("N5612 COUNTY RD XX", "", "HOLMEN", "WI", "54636"), phone=("608", "0137"),
    member="6RA3CU8MD24", payer="MCR", ssn="990-41-2378", marital="M", religion="LUT",
    pcp=P_LUNDQUIST, pcp_clinic="RIVERBEND FAMILY CLINIC", nk1=[("BRATEN^JOANNE", "SPO", "Spouse", "0137")],
    visit="V000419455", pclass="O", adm_type="EL", location=("CVU", "318", "B"), service="CAR",
    attending=P_SKAAR, admit=D(2026, 11, 20, 6, 15), event_time=D(2026, 11, 21, 8, 20), admit_source="1",
    fin_class="MC", admit_reason="ELECTIVE PCI",
    dx=[("I25.118", "Atherosclerotic heart disease of native coronary artery with other forms of angina pectoris", "A"),
        ("E78.5", "Hyperlipidemia, unspecified", "W")],
    px=[("92928", "Coronary stent placement, single vessel", "C4", D(2026, 11, 20, 8, 40), P_SKAAR, "P")],
    z={"unit_type": "CARDIAC", "operator": "UREVIEW2"},
    note="inpatient changed to outpatient (PV1-2 O) after utilisation review; admission type EL (Riverbend's "
         "local code for elective, -> C); no offsets, America/Chicago",
)

# ---- 4. Cancels.
ADEYEMI = BY_FILE["lakeshore_v251_A01_01.hl7"]
ADEYEMI_A11 = replace(
    ADEYEMI, file="lakeshore_v251_A11_01.hl7", event="A11", seq=5, sent=D(2026, 11, 22, 0, 36, 10),
    shape="cancel", event_time=D(2026, 11, 22, 0, 30, 0), acct_status="", dx=[], labs=[],
    note="cancels the admission of lakeshore_v251_A01_01.hl7 (same PID-3, PV1-19 LV10345120); offsets -0600",
)
NGUYEN = BY_FILE["cascadia_v28_A03_01.hl7"]
NGUYEN_A12 = replace(
    NGUYEN, file="cascadia_v28_A12_01.hl7", event="A12", seq=5, sent=D(2026, 11, 14, 15, 21, 7, 558000),
    shape="cancel", event_time=D(2026, 11, 14, 15, 18, 0), location=("ICU", "12", "A"),
    prior_location=("3W", "305", "A"), dx=[], px=[], labs=[],
    note="cancels a transfer ICU -> 3W during the stay of cascadia_v28_A03_01.hl7: PV1-3 is the bed before the "
         "transfer (ICU), PV1-6 the cancelled one (3W); the A02 itself is not in the set; offsets -0800",
)
HARTLEY = BY_FILE["riverbend_v23_A03_01.hl7"]
HARTLEY_A13 = replace(
    HARTLEY, file="riverbend_v23_A13_01.hl7", event="A13", seq=5, sent=D(2026, 11, 19, 13, 41),
    event_time=D(2026, 11, 19, 13, 38), evn_reason="02", dx=HARTLEY.dx[:1], px=[], labs=[],
    z={"unit_type": "TELE", "dc_nurse": "", "readmit_risk": "HIGH", "operator": "KSCHULTZ"},
    note="cancels the discharge of riverbend_v23_A03_01.hl7 (hypotensive before leaving): no PV1-36/45, EVN-4 02",
)
HARTLEY_A03_AGAIN = replace(
    HARTLEY, file="riverbend_v23_A03_04.hl7", seq=6, sent=D(2026, 11, 22, 10, 12),
    discharge=D(2026, 11, 22, 10, 5), disposition="03", discharged_to="COULEE BLUFFS NURSING AND REHAB",
    dx=HARTLEY.dx + [("I95.9", "Hypotension, unspecified", "F")],
    labs=[("HGB", "10.8", "L", D(2026, 11, 22, 5, 40)), ("NA", "133", "L", D(2026, 11, 22, 5, 40))],
    z={"unit_type": "TELE", "dc_nurse": "AHERR", "readmit_risk": "HIGH", "operator": "HZIEGLER"},
    note="the real discharge of the same visit after the A13, to a SNF (PV1-36 03, PV1-37), PV2-11 8",
)

# ---- 5. Merge: Patel's ED registration (northfield_v26_A04_01.hl7) made a duplicate record.
PATEL = BY_FILE["northfield_v26_A04_01.hl7"]
PATEL_A40 = replace(
    PATEL, file="northfield_v26_A40_01.hl7", event="A40", seq=6, sent=D(2026, 11, 23, 10, 15, 40),
    shape="merge", event_time=D(2026, 11, 23, 10, 14), mrn="M000318842", extra_ids=[("NCH0004417", "NCH", "PI")],
    account="", pclass="N", mrg=("M000529904", "Patel^Anjali^^^^^L"),
    z={"operator": "MT.HIM3"},
    note="merges the duplicate MRN M000529904 of northfield_v26_A04_01.hl7 (MRG-1) into the older M000318842 "
         "(PID-3); PV1-2 N",
)

# ---- 6. Lab results with local codes first and LOINC second (Northfield), for MacAllister's stay.
MACALLISTER = BY_FILE["northfield_v26_A03_02.hl7"]
MACALLISTER_ORU = replace(MACALLISTER, file="northfield_v26_ORU_R01_01.hl7", event="R01", seq=7,
                          sent=D(2026, 11, 20, 6, 12, 48),
                          note="discharge-day labs of northfield_v26_A03_02.hl7: local codes (99NCH) in the first CWE "
                               "triplet of OBR-4/OBX-3 and LOINC in the second; MSH-7 -0500, OBX-14 without offset")
MACALLISTER_PANELS = [
    ("MT2611200113", "NL26112000481", "CBC", "HM", D(2026, 11, 20, 5, 30), D(2026, 11, 20, 5, 58),
     [("HGB", "10.2", "L", "NM")]),
    ("MT2611200114", "NL26112000482", "BMP", "CH", D(2026, 11, 20, 5, 30), D(2026, 11, 20, 6, 9),
     [("NA", "137", "N", "NM"), ("K", "4.4", "N", "NM")]),
]

NEW_ENCOUNTERS: list[Encounter] = [
    DOHERTY_A01, DOHERTY_A02, DOHERTY_A08, DOHERTY_A03, NOWAK_ED, NOWAK_ED_DC, HALVORSEN_A05, QUINLAN_OBS,
    QUINLAN_A06, BRATEN_A07, ADEYEMI_A11, NGUYEN_A12, HARTLEY_A13, HARTLEY_A03_AGAIN, PATEL_A40,
]
NEW_ORUS = [  # (encounter, panels, placer application, filler application)
    (DOHERTY_ORU, DOHERTY_PANELS, "CARELINK", "SBHLAB"),
    (MACALLISTER_ORU, MACALLISTER_PANELS, "MT", "NCHLAB"),
]


# --------------------------------------------------------------------------------------------
# Reference reader (independent of the C++ codec; used to check the files and fill the READMEs)
# --------------------------------------------------------------------------------------------

def _per_byte(err: UnicodeDecodeError):
    return "\ufffd" * (err.end - err.start), err.end


codecs.register_error("carebridge_per_byte", _per_byte)

MSH18_CHARSETS = {"": "utf-8", "ASCII": "utf-8", "UNICODE UTF-8": "utf-8", "8859/1": "latin-1",
                  "8859/15": "iso8859-15"}
PATH_RE = re.compile(r"^([A-Z0-9]{3})(?:\[(\d+)\])?(?:\.(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?)?$")


class RefMessage:
    """One ER7 message: segments split on any run of CR/LF, a leading UTF-8 BOM dropped."""

    def __init__(self, data: bytes, fallback: str | None = None):
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        raw_segs = [s for s in re.split(rb"[\r\n]+", data) if s]
        if not raw_segs or not raw_segs[0].startswith(b"MSH") or len(raw_segs[0]) < 8:
            raise ValueError("not HL7 v2")
        first = raw_segs[0]
        self.fs = chr(first[3])
        enc_end = first.index(self.fs.encode(), 4) if self.fs.encode() in first[4:] else len(first)
        self.enc = first[4:enc_end].decode("ascii")
        self.cs, self.rs, self.ec, self.ss = (self.enc + "\0\0\0\0")[:4]
        self.tc = self.enc[4] if len(self.enc) > 4 else ""
        msh_fields = first.split(self.fs.encode())
        self.msh18 = msh_fields[17].split(self.rs.encode())[0].decode("ascii").strip().upper() \
            if len(msh_fields) > 17 else ""
        self.charset = MSH18_CHARSETS.get(self.msh18, "utf-8")
        try:
            b"".join(raw_segs).decode(self.charset)
            self.invalid_bytes = 0
        except UnicodeDecodeError:
            text = b"".join(raw_segs).decode(self.charset, "carebridge_per_byte")
            self.invalid_bytes = text.count("\ufffd")
            if fallback:
                self.charset = fallback
        self.segments = [s.decode(self.charset, "carebridge_per_byte") for s in raw_segs]

    def count(self, sid: str) -> int:
        return sum(1 for s in self.segments if s[:3] == sid)

    def raw(self, path: str) -> str | None:
        m = PATH_RE.match(path)
        if not m:
            raise ValueError(f"bad path {path}")
        sid, occ, fno, rep, comp, sub = m.groups()
        segs = [s for s in self.segments if s.split(self.fs, 1)[0] == sid]
        occ = int(occ or 1)
        if len(segs) < occ:
            return ""
        s = segs[occ - 1]
        if fno is None:
            return s
        fno = int(fno)
        parts = s.split(self.fs)
        if sid == "MSH":
            if fno == 1:
                return self.fs
            if fno == 2:
                return self.enc
            parts = [parts[0], self.fs] + parts[1:]
        val = parts[fno] if fno < len(parts) else ""
        if rep is not None or comp is not None:
            reps = val.split(self.rs) if self.rs != "\0" else [val]
            val = reps[int(rep or 1) - 1] if int(rep or 1) <= len(reps) else ""
        if comp is not None:
            comps = val.split(self.cs)
            val = comps[int(comp) - 1] if int(comp) <= len(comps) else ""
        if sub is not None:
            subs = val.split(self.ss)
            val = subs[int(sub) - 1] if int(sub) <= len(subs) else ""
        return val

    def get(self, path: str) -> str:
        """Decoded value (leaves only; composites come back as ER7 text, like the codec)."""
        v = self.raw(path)
        if any(d in v for d in (self.cs, self.rs, self.ss) if d != "\0"):
            return v
        return self.unescape(v)

    def repetitions(self, path: str) -> int:
        return len(self.raw(path).split(self.rs)) if self.raw(path) else 0

    def unescape(self, v: str) -> str:
        out, i, e = [], 0, self.ec
        named = {"F": self.fs, "S": self.cs, "T": self.ss, "R": self.rs, "E": self.ec}
        if self.tc:
            named["P"] = self.tc
        while i < len(v):
            if v[i] != e:
                out.append(v[i])
                i += 1
                continue
            j = v.find(e, i + 1)
            if j < 0:
                out.append(v[i:])
                break
            body = v[i + 1:j]
            if body in named:
                out.append(named[body])
            elif body == ".br":
                out.append("\n")
            elif body[:1] == "X" and len(body) > 1 and all(c in "0123456789abcdefABCDEF" for c in body[1:]):
                hx = body[1:]
                if hx.lower() in ("000d", "000a"):   # one 16-bit CR / LF, as HAPI and Mirth write it
                    out.append("\r" if hx.lower() == "000d" else "\n")
                else:
                    out.append(bytes.fromhex(hx if len(hx) % 2 == 0 else "0" + hx).decode(self.charset, "carebridge_per_byte"))
            else:
                out.append(v[i:j + 1])
            i = j + 1
        return "".join(out)


def split_batch(data: bytes) -> tuple[list[bytes], dict]:
    """Splits a file into messages: on each MSH; FHS/BHS/BTS/FTS lines are envelope."""
    msgs, cur, env = [], None, {"FHS": 0, "BHS": 0, "BTS": [], "FTS": []}
    for line in re.split(rb"(?<=[\r\n])", data):
        body = line.rstrip(b"\r\n")
        if not body:
            if cur is not None:
                cur += line
            continue
        sid = body[:3].decode("latin-1")
        if sid in ("FHS", "BHS", "BTS", "FTS"):
            if cur is not None:
                msgs.append(cur)
                cur = None
            if sid in ("FHS", "BHS"):
                env[sid] += 1
            else:
                env[sid].append(body.split(b"|")[1].decode() if b"|" in body else "")
        elif sid == "MSH":
            if cur is not None:
                msgs.append(cur)
            cur = line
        elif cur is not None:
            cur += line
    if cur is not None:
        msgs.append(cur)
    return msgs, env


# --------------------------------------------------------------------------------------------
# Per-facility configuration for the mapper (adt/hospitals.json and the README table)
# --------------------------------------------------------------------------------------------

ROOT = "2.16.840.1.113883.19"          # HL7's example OID root: every organisation here is fictional
SSN_URI = "http://hl7.org/fhir/sid/us-ssn"
MBI_URI = "http://hl7.org/fhir/sid/us-mbi"
NPI_URI = "http://hl7.org/fhir/sid/us-npi"
PAYER_URI = {  # plan member-id systems (IN1-49 and PID-3 type MB); one system per plan company
    "BCBSWI": f"urn:oid:{ROOT}.211", "WIMCD": f"urn:oid:{ROOT}.212", "HARBOR": f"urn:oid:{ROOT}.213",
    "HARBORMA": f"urn:oid:{ROOT}.213", "PRAIRIE": f"urn:oid:{ROOT}.214", "ILMCO": f"urn:oid:{ROOT}.215",
    "FINGER": f"urn:oid:{ROOT}.216", "EVERGRN": f"urn:oid:{ROOT}.217", "COLUMBIA": f"urn:oid:{ROOT}.218",
    "MCR": MBI_URI,  # Medicare Part A: the member id is the MBI
}
TABLE_0004 = {"E", "I", "O", "P", "R", "B", "C", "N", "U"}
TABLE_0007 = {"A", "C", "E", "L", "N", "R", "U"}


@dataclass
class FacilityConfig:
    hosp: Hospital
    time_zone: str
    own: str                                    # the facility's own OID arc under ROOT
    others: dict[str, str]                      # other assigning authorities seen in its messages -> URI
    local: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # kind -> code -> (target, meaning)
    code_systems: dict[str, str] = field(default_factory=dict)   # local coding-system names (CWE-3) -> URI
    practitioner_default: str | None = None     # XCN ids sent without an assigning authority
    own_types: tuple[str, ...] = ("VN", "AN")   # CX-5 types under the facility's own authority besides MR

    @property
    def facility(self) -> str:
        return self.hosp.facility.split("^")[0]

    def identifier_systems(self) -> dict[str, str]:
        return {self.hosp.short: f"urn:oid:{ROOT}.{self.own}", **self.others}

    def by_type(self) -> dict[str, dict[str, str]]:
        arcs = {"VN": 2, "AN": 3, "PI": 6}
        return {t: {self.hosp.short: f"urn:oid:{ROOT}.{self.own}.{arcs[t]}"} for t in self.own_types}

    def as_json(self) -> dict:
        return {
            "name": self.hosp.name,
            "time_zone": self.time_zone,
            "identifier_systems": self.identifier_systems(),
            "identifier_systems_by_type": self.by_type(),
            "practitioner_system_default": self.practitioner_default,
            "code_systems": self.code_systems,
            "local_codes": {k: {c: t for c, (t, _) in v.items()} for k, v in self.local.items()},
        }


FACILITIES = [
    FacilityConfig(RIVERBEND, "America/Chicago", "1",
                   {"SSA": SSN_URI, "MCR": MBI_URI, "BCBSWI": PAYER_URI["BCBSWI"], "WIMCD": PAYER_URI["WIMCD"]},
                   local={"patient_class": {}, "discharge_disposition": {},
                          "admission_type": {"EL": ("C", "elective inpatient admission (Riverbend's own code; "
                                                        "HL7 table 0007 says C)")},
                          "lab": {}},
                   practitioner_default=f"urn:oid:{ROOT}.1.4"),
    FacilityConfig(STBRIGID, "America/New_York", "2",
                   {"SSA": SSN_URI, "MCR": MBI_URI, "CMS": MBI_URI, "HARBOR": PAYER_URI["HARBOR"],
                    "HARBORMA": PAYER_URI["HARBORMA"], "NPI": NPI_URI},
                   local={"patient_class": {}, "discharge_disposition": {}, "admission_type": {}, "lab": {}}),
    FacilityConfig(LAKESHORE, "America/Chicago", "3",
                   {"SSA": SSN_URI, "MCR": MBI_URI, "PRAIRIE": PAYER_URI["PRAIRIE"], "ILMCO": PAYER_URI["ILMCO"],
                    "NPI": NPI_URI},
                   local={"patient_class": {}, "discharge_disposition": {}, "admission_type": {}, "lab": {}}),
    FacilityConfig(LUHSC, "America/Phoenix", "3.9",
                   {"LUH": f"urn:oid:{ROOT}.3", "SSA": SSN_URI, "CMS": MBI_URI, "PRAIRIE": PAYER_URI["PRAIRIE"],
                    "NPI": NPI_URI},
                   local={"patient_class": {},
                          "discharge_disposition": {
                              "HOM": ("01", "home or self care"), "HHC": ("06", "home with home health"),
                              "SNF": ("03", "skilled nursing facility"), "AMA": ("07", "left against medical advice"),
                              "LWBS": ("07", "left without being seen (discontinued care)"),
                              "ADM": ("09", "admitted as an inpatient to this hospital"),
                              "TRF": ("02", "transferred to another acute hospital"), "EXP": ("20", "expired")},
                          "admission_type": {}, "lab": {}}),
    FacilityConfig(NORTHFIELD, "America/New_York", "4",
                   {"SSA": SSN_URI, "MCR": MBI_URI, "FINGER": PAYER_URI["FINGER"], "NCHDR": f"urn:oid:{ROOT}.4.4"},
                   local={"patient_class": {"OBS": ("OBSENC", "observation stay (an outpatient class; HL7 table 0004 "
                                                              "has no observation code)")},
                          "discharge_disposition": {}, "admission_type": {},
                          "lab": {NORTHFIELD.lab_codes[k][0]: (code, f"{NORTHFIELD.lab_codes[k][1].lower()} "
                                                                     f"(LOINC {code} {name})")
                                  for k, (code, name) in [("CBC", PANELS["CBC"]), ("BMP", PANELS["BMP"]),
                                                          ("HGB", LABS["HGB"][:2]), ("NA", LABS["NA"][:2]),
                                                          ("K", LABS["K"][:2])]}},
                   code_systems={"99NCH": f"urn:oid:{ROOT}.4.5"}, own_types=("VN", "AN", "PI")),
    FacilityConfig(CASCADIA, "America/Los_Angeles", "5",
                   {"SSA": SSN_URI, "EVERGRN": PAYER_URI["EVERGRN"], "COLUMBIA": PAYER_URI["COLUMBIA"], "NPI": NPI_URI},
                   local={"patient_class": {}, "discharge_disposition": {}, "admission_type": {}, "lab": {}}),
]
FACILITY = {f.facility: f for f in FACILITIES}


def hospitals_json() -> bytes:
    return (json.dumps({f.facility: f.as_json() for f in FACILITIES}, indent=2) + "\n").encode()


# Where the checks look for identifiers and times.
CX_FIELDS = ["PID.3", "PID.18", "PV1.19", "IN1.49", "MRG.1"]
XCN_FIELDS = ["PD1.4", "PV1.7", "PV1.8", "PV1.17", "ROL.4", "PR1.11", "DG1.16", "ORC.12", "OBR.16"]
TS_FIELDS = ["MSH.7", "EVN.2", "EVN.6", "PV1.44", "PV1.45", "PV2.8", "PV2.9", "DG1.5", "PR1.5", "OBR.7",
             "OBR.22", "OBX.14"]
MBI_RE = re.compile(r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d"
                    r"[AC-HJKMNP-RT-Y]{2}\d\d$")   # CMS MBI format
TS_RE = re.compile(r"^(\d{4})(\d\d)(\d\d)(\d\d)?(\d\d)?(\d\d)?(?:\.\d{1,4})?([+-]\d{4})?$")


def occurrences(m: RefMessage, path: str) -> list[str]:
    """Every repetition of SEG.F in every occurrence of SEG (raw ER7)."""
    sid, f = path.split(".")
    out = []
    for n in range(1, m.count(sid) + 1):
        raw = m.raw(f"{sid}[{n}].{f}")
        out += [r for r in raw.split(m.rs) if r]
    return out


def check_config(files: dict[str, bytes]) -> None:
    """The configuration must cover what the files send, and the offsets sent must be the zone's."""
    seen_auth: dict[str, set[str]] = {k: set() for k in FACILITY}
    seen_local: dict[str, dict[str, set[str]]] = {k: {"patient_class": set(), "discharge_disposition": set(),
                                                      "admission_type": set(), "lab": set()} for k in FACILITY}
    for name, data in sorted(files.items()):
        m = RefMessage(data)
        fac = m.get("MSH.4.1")
        assert fac in FACILITY, (name, fac)
        cfg = FACILITY[fac]
        systems, by_type = cfg.identifier_systems(), cfg.by_type()
        for path in CX_FIELDS:
            for cx in occurrences(m, path):
                parts = cx.split(m.cs)
                auth = parts[3].split(m.ss)[0] if len(parts) > 3 else ""
                typ = parts[4] if len(parts) > 4 else ""
                assert auth in systems, (name, path, cx)
                seen_auth[fac].add(auth)
                if systems[auth] == MBI_URI:
                    assert MBI_RE.match(parts[0]), (name, path, cx)
                if systems[auth] == SSN_URI:
                    assert re.match(r"^9\d{8}$", parts[0]), (name, path, cx)   # 9xx: never issued
                if auth == cfg.hosp.short and typ != "MR":
                    assert typ in by_type, (name, path, cx)
        for path in XCN_FIELDS:
            for xcn in occurrences(m, path):
                parts = xcn.split(m.cs)
                auth = parts[8].split(m.ss)[0] if len(parts) > 8 else ""
                if auth:
                    assert auth in systems, (name, path, xcn)
                    seen_auth[fac].add(auth)
                else:
                    assert cfg.practitioner_default, (name, path, xcn)
        pclass, adm, dispo = m.get("PV1.2"), m.get("PV1.4"), m.get("PV1.36")
        if pclass and pclass not in TABLE_0004:
            assert pclass in cfg.local["patient_class"], (name, pclass)
            seen_local[fac]["patient_class"].add(pclass)
        if adm and adm not in TABLE_0007:
            assert adm in cfg.local["admission_type"], (name, adm)
            seen_local[fac]["admission_type"].add(adm)
        if dispo and dispo not in NUBC_STATUS:
            assert dispo in cfg.local["discharge_disposition"], (name, dispo)
            assert cfg.local["discharge_disposition"][dispo][0] in NUBC_STATUS, (name, dispo)
            seen_local[fac]["discharge_disposition"].add(dispo)
        for path in ("OBR.4", "OBX.3"):
            for cwe in occurrences(m, path):
                parts = cwe.split(m.cs)
                if parts[2] != "LN":
                    assert parts[2] in cfg.code_systems, (name, cwe)
                    assert cfg.local["lab"][parts[0]][0] == parts[3] and parts[5] == "LN", (name, cwe)
                    seen_local[fac]["lab"].add(parts[0])
        zone = ZoneInfo(cfg.time_zone)
        for path in TS_FIELDS:
            for v in occurrences(m, path):
                t = TS_RE.match(v.split(m.cs)[0])
                assert t, (name, path, v)
                if t.group(4) is None:
                    continue
                local = datetime(*(int(x) for x in t.groups()[:5] if x is not None))
                a, b = local.replace(tzinfo=zone), local.replace(tzinfo=zone, fold=1)
                assert a.utcoffset() == b.utcoffset(), f"{name} {path} {v}: ambiguous or skipped local time"
                if t.group(7):
                    assert a.strftime("%z") == t.group(7), f"{name} {path} {v}: offset is not {cfg.time_zone}'s"
    for fac, cfg in FACILITY.items():
        unused = set(cfg.identifier_systems()) - seen_auth[fac]
        assert not unused, (fac, "authorities configured but never sent", unused)
        for kind in ("patient_class", "admission_type", "lab"):
            assert set(cfg.local[kind]) == seen_local[fac][kind], (fac, kind)
        assert seen_local[fac]["discharge_disposition"] <= set(cfg.local["discharge_disposition"]), fac


# --------------------------------------------------------------------------------------------
# edge/ cases
# --------------------------------------------------------------------------------------------

@dataclass
class Case:
    file: str
    data: bytes
    exercises: str
    expect: list[tuple[str, str]]       # (path, decoded value)
    note: str = ""                      # further expectations in words (checked where possible)
    reject: bool = False                # not HL7: must be refused
    invalid_bytes: int | None = None
    fallback: str | None = None         # expectations computed with this fallback charset
    segments: int | None = None
    check_extra: object = None          # callable(RefMessage) for one-off checks


def edge_base(ctrl: str, pid: str, extra: list[str] | None = None, version: str = "2.5.1",
              msh_tail: dict[int, str] | None = None) -> list[str]:
    vals = {3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
            9: "ADT^A03^ADT_A03", 10: ctrl, 11: "P", 12: version}
    vals.update(msh_tail or {})
    return [msh_seg(vals), "EVN|A03|20261120143005-0500", pid,
            edge_pv1("310", "V7001"),
            "DG1|1|I10|J18.9^Pneumonia, unspecified organism^I10||20261117|A",
            "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10||20261117|F"] + (extra or [])


def edge_pv1(room: str, visit: str, sep: str = "|", comp: str = "^", **more: str) -> str:
    """PV1 of the edge messages: inpatient, discharged home (PV1-36 01), PV1-44/45 valued."""
    vals = {1: "1", 2: "I", 3: f"3E^{room}^A^EDGEHOSP", 4: "E", 7: "1467528390^Ferreira^Ana^^^^MD",
            10: "MED", 19: f"{visit}^^^EDGEHOSP^VN", 36: "01", 44: "20261117091500-0500",
            45: "20261120140000-0500"}
    vals.update({int(k[1:]): v for k, v in more.items()})
    vals = {k: v.replace("^", comp) for k, v in vals.items()}
    return seg("PV1", vals, sep=sep)


PID_LINDGREN = "PID|1||E1001^^^EDGEHOSP^MR~W77120034^^^PLAN^MB||Lindgren^Astrid^M||19770414|F"
COMMON = [("PID.5.1", "Lindgren"), ("DG1[2].3.1", "E11.9"), ("PV1.45", "20261120140000-0500")]


def edge_cases() -> list[Case]:
    cases: list[Case] = []

    segs = edge_base("EDGE-LF-0001", PID_LINDGREN)
    cases.append(Case("lf_terminators.hl7", er7(segs, "\n"),
                      "segments ended by LF (0x0A) only, final LF",
                      [("MSH.10", "EDGE-LF-0001")] + COMMON, segments=6))

    segs = edge_base("EDGE-CRLF-0002", PID_LINDGREN)
    cases.append(Case("crlf_terminators.hl7", er7(segs, "\r\n"),
                      "segments ended by CR LF, final CR LF (no CR or LF left in any value)",
                      [("MSH.10", "EDGE-CRLF-0002"), ("PID.8", "F")] + COMMON, segments=6))

    segs = edge_base("EDGE-BOM-0003", PID_LINDGREN)
    cases.append(Case("utf8_bom.hl7", b"\xef\xbb\xbf" + er7(segs),
                      "a leading UTF-8 byte-order mark (EF BB BF) before MSH; CR terminators",
                      [("MSH.1", "|"), ("MSH.3", "EDGEAPP"), ("MSH.10", "EDGE-BOM-0003")] + COMMON[:1],
                      segments=6))

    segs = edge_base("EDGE-BLANK-0004", PID_LINDGREN)
    data = (segs[0] + "\r\r" + segs[1] + "\r\n\r\n" + segs[2] + "\n\n" + segs[3] + "\r\r\r" + segs[4] + "\r"
            + segs[5] + "\r\n\n\n").encode()
    cases.append(Case("blank_lines_and_trailing_newlines.hl7", data,
                      "empty segments between segments (CR CR, CRLF CRLF, LF LF, CR CR CR) and trailing CR LF LF LF; "
                      "blank segments are skipped",
                      [("MSH.10", "EDGE-BLANK-0004"), ("DG1[2].6", "F")] + COMMON, segments=6))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT^A08^ADT_A01", 10: "EDGE-NULL-0005", 11: "P", 12: "2.5.1"}),
            "EVN|A08|20261120143005-0500",
            'PID|1||E1005^^^EDGEHOSP^MR||Quinn^Rory^""||19880202|""||""|""^^Dayton^OH^45402||""|',
            edge_pv1("311", "V7005", p36='""', p45='""'),
            'ZPI|custom|""||""^x']
    cases.append(Case("null_vs_empty.hl7", er7(segs),
                      'the HL7 null `""` (delete the value) next to empty fields (not sent); in fields, '
                      "components and a Z-segment; PID ends with a trailing empty field",
                      [("PID.5.3", '""'), ("PID.6", ""), ("PID.8", '""'), ("PID.9", ""), ("PID.10", '""'),
                       ("PID.11.1", '""'), ("PID.11.3", "Dayton"), ("PID.13", '""'), ("PID.14", ""),
                       ("PV1.36", '""'), ("PV1.45", '""'), ("ZPI.2", '""'), ("ZPI.3", ""), ("ZPI.4.1", '""')],
                      note='a null reads back as the two characters `""` (element::is_null() true); '
                           "an empty or absent field reads back as an empty string"))

    reps = ["E1006^^^EDGEHOSP^MR"] + [f"X{i:02d}-{9000 + 17 * i}^^^FAC{i:02d}^PI" for i in range(2, 36)]
    pid = f"PID|1||{'~'.join(reps)}||Ivanov^Oleg^P||19640707|M"
    segs = edge_base("EDGE-REP35-0006", pid)
    cases.append(Case("pid3_35_repetitions.hl7", er7(segs),
                      "PID-3 with 35 repetitions (typed models that cap repetitions reject this)",
                      [("PID.3[1].1", "E1006"), ("PID.3[2].1", "X02-9034"), ("PID.3[35].1", "X35-9595"),
                       ("PID.3[35].4", "FAC35"), ("PID.3[35].5", "PI"), ("PID.3[36].1", ""),
                       ("PID.5.1", "Ivanov")],
                      note="PID-3 repetition count 35",
                      check_extra=lambda m: m.repetitions("PID.3") == 35))

    segs = edge_base("EDGE-ZMID-0007", PID_LINDGREN)
    segs = (segs[:2] + ["ZEV|SRC^MT|20261120143000"] + [segs[2]] + ["ZPI|VIP^N|Pref name^Addie"]
            + [segs[3]] + ["ZPV|FALLRISK^HIGH", "ZPV|ISOLATION^CONTACT"] + [segs[4]] + ["ZDG|1|POA^Y"] + [segs[5]]
            + ["ZZZ|end"])
    cases.append(Case("zsegments_middle.hl7", er7(segs),
                      "Z-segments between the standard ones (after EVN, PID, PV1 (twice) and DG1) and at the end",
                      [("ZEV.1.1", "SRC"), ("ZPI.2.2", "Addie"), ("ZPV[2].1.2", "CONTACT"), ("ZDG.2.2", "Y"),
                       ("ZZZ.1", "end"), ("PV1.19.1", "V7001")] + COMMON, segments=12))

    msh_extra = {i: "" for i in range(13, 25)}
    msh_extra[25] = "X-MSH-25"
    xpn16 = "Okonkwo^Chidi^A^Jr^Mr^^L^^^^^^^^^X-XPN-16"
    pid = seg("PID", {1: "1", 3: "E1008^^^EDGEHOSP^MR", 5: xpn16, 7: "19900101", 8: "M",
                      41: "X-PID-41", 45: "X-PID-45"})
    segs = edge_base("EDGE-EXTRA-0008", pid, msh_tail=msh_extra)
    segs[3] = edge_pv1("310", "V7008", p60="X-PV1-60")
    segs.append(seg("OBX", {1: "1", 2: "NM", 3: "718-7^Hemoglobin [Mass/volume] in Blood^LN", 5: "13.2",
                            6: "g/dL", 7: "13.5-17.5", 8: "L", 11: "F", 14: "20261120060000-0500",
                            30: "X-OBX-30^extra^component"}))
    cases.append(Case("extra_fields.hl7", er7(segs),
                      "fields and components past the standard count (MSH-25, XPN with 16 components, PID-41..45, "
                      "PV1-60, OBX-30); nothing is dropped",
                      [("MSH.25", "X-MSH-25"), ("MSH.12", "2.5.1"), ("PID.5.1", "Okonkwo"), ("PID.5.16", "X-XPN-16"),
                       ("PID.7", "19900101"), ("PID.41", "X-PID-41"), ("PID.45", "X-PID-45"), ("PID.46", ""),
                       ("PV1.45", "20261120140000-0500"), ("PV1.60", "X-PV1-60"), ("OBX.30.1", "X-OBX-30"),
                       ("OBX.30.3", "component")]))

    obx5_raw = ("Ratio 3\\S\\4 \\T\\ rising\\F\\see note \\R\\ approx\\E\\range.\\X0D\\Line two\\X000d\\Line three"
                "\\.br\\Line four \\H\\CRITICAL\\N\\ called to RN")
    obx5 = ("Ratio 3^4 & rising|see note ~ approx\\range.\rLine two\rLine three\nLine four "
            "\\H\\CRITICAL\\N\\ called to RN")
    segs = [msh_seg({3: "EDGELAB", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ORU^R01^ORU_R01", 10: "EDGE-ESC-0009", 11: "P", 12: "2.5.1"}),
            "PID|1||E1009^^^EDGEHOSP^MR||O\\T\\Brien^Siobhan||19811111|F",
            "OBR|1|ORD1009|FIL1009|24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN|||20261120120000-0500",
            f"OBX|1|FT|18842-5^Discharge summary^LN||{obx5_raw}||||||F",
            "OBX|2|ST|8251-1^Service comment^LN||C:\\E\\labs\\E\\run 7 \\X41\\\\X4243\\||||||F"]
    cases.append(Case("escapes_obx5.hl7", er7(segs),
                      "escape sequences in an OBX-5 FT text: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X0D\\ \\X000d\\ \\.br\\ "
                      "\\H\\ \\N\\; plus \\T\\ in a name and \\Xhh\\ letters in OBX[2]",
                      [("OBX.5", obx5), ("PID.5.1", "O&Brien"), ("OBX[2].5", "C:\\labs\\run 7 ABC")],
                      note="decoded: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ give | ^ & ~ \\; \\X0D\\ and \\X000d\\ each give "
                           "one CR (0x0D); \\.br\\ gives LF (0x0A); \\H\\ and \\N\\ are kept verbatim. "
                           f"OBX-5 as JSON: {json.dumps(obx5)}"))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT^A03^ADT_A03", 10: "EDGE-TRUNC-0010", 11: "P", 12: "2.7"}, enc="^~\\&#"),
            "EVN||20261120143005-0500",
            "PID|1||E1010^^^EDGEHOSP^MR||Fairweather-Montgomer#^Alexandra||19700303|F|||"
            "Suite \\P\\210^1 Harbor Plaza^Portland^ME^04101",
            edge_pv1("312", "V7010", p44="20261118080000-0500")]
    cases.append(Case("truncation_char_v27.hl7", er7(segs),
                      "v2.7 truncation character: MSH-2 `^~\\&#`; a value ending in `#` (sender truncated it) "
                      "and the \\P\\ escape for a literal `#`",
                      [("MSH.2", "^~\\&#"), ("MSH.12", "2.7"), ("MSH.9.2", "A03"),
                       ("PID.5.1", "Fairweather-Montgomer#"), ("PID.11.1", "Suite #210"), ("PID.11.3", "Portland"),
                       ("PV1.45", "20261120140000-0500")],
                      note="delimiters: field | component ^ repetition ~ escape \\ subcomponent & truncation #"))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT$A03$ADT_A03", 10: "EDGE-DELIM-0011", 11: "P", 12: "2.4"}, enc="$*@!", sep="#"),
            "EVN#A03#20261120143005-0500",
            "PID#1##E1011$$$EDGEHOSP$MR*W55120$$$PLAN$MB##Smith@T@Jones$Pat$Q##19850505#M###"
            "12^B Main St|Rear$$Bangor$ME$04401",
            edge_pv1("313", "V7011", sep="#", comp="$", p44="20261118080000-0500"),
            "DG1#1#I10#J18.9$Pneumonia@F@ unspecified organism$I10##20261118#A",
            "DG1#2#I10#E11.9$Type 2 diabetes mellitus without complications$I10##20261118#F"]
    cases.append(Case("nonstandard_delimiters.hl7", er7(segs),
                      "delimiters other than the defaults: MSH-1 `#`, MSH-2 `$*@!` (component $, repetition *, "
                      "escape @, subcomponent !); `|` and `^` are plain data here",
                      [("MSH.1", "#"), ("MSH.2", "$*@!"), ("MSH.9.2", "A03"), ("MSH.10", "EDGE-DELIM-0011"),
                       ("PID.3[2].1", "W55120"), ("PID.5.1", "Smith!Jones"), ("PID.5.2", "Pat"),
                       ("PID.11.1", "12^B Main St|Rear"), ("PV1.45", "20261120140000-0500"),
                       ("DG1.3.2", "Pneumonia# unspecified organism"), ("DG1[2].3.1", "E11.9")]))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT^A03^ADT_A03", 10: "EDGE-L1-0012", 11: "P", 12: "2.5.1", 18: "8859/1"}),
            "EVN|A03|20261120143005-0500",
            "PID|1||E1012^^^EDGEHOSP^MR||Müller^José^Ñuñez||19720612|M|||12 Rue Sainte-Thérèse^^Montr\\XE9\\al^QC^H2X 1K4^CAN",
            "NK1|1|Peña^Inés|SPO^Spouse^HL70063",
            edge_pv1("314", "V7012", p44="20261118080000-0500")]
    cases.append(Case("iso8859_1_msh18.hl7", er7(segs, encoding="latin-1"),
                      "ISO-8859-1 bytes declared by MSH-18 `8859/1` (é E9, ü FC, ñ F1, Ñ D1 as single bytes; "
                      "\\XE9\\ read in that set)",
                      [("MSH.18", "8859/1"), ("PID.5.1", "Müller"), ("PID.5.2", "José"), ("PID.5.3", "Ñuñez"),
                       ("NK1.2.1", "Peña"), ("NK1.2.2", "Inés"), ("PID.11.1", "12 Rue Sainte-Thérèse"),
                       ("PID.11.3", "Montréal")],
                      note="values are given in UTF-8 (after transcoding); invalid bytes 0", invalid_bytes=0))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ORU^R01^ORU_R01", 10: "EDGE-1252-0013", 11: "P", 12: "2.5.1"}),
            "PID|1||E1013^^^EDGEHOSP^MR||Doucet^Renée||19660909|F",
            "OBR|1|ORD1013|FIL1013|11506-3^Progress note^LN|||20261120120000-0500",
            "OBX|1|TX|11506-3^Progress note^LN||Pt states she feels “much better” today.||||||F",
            "OBX|2|TX|11506-3^Progress note^LN||Copay of €25 collected at discharge.||||||F"]
    data = er7(segs, encoding="cp1252")
    assert data.count(b"\x93") == 1 and data.count(b"\x94") == 1 and data.count(b"\x80") == 1
    cases.append(Case("windows1252_no_msh18.hl7", data,
                      "windows-1252 bytes with no MSH-18: curly quotes 93/94, euro 80, é E9 (not valid UTF-8)",
                      [("OBX.5", "Pt states she feels “much better” today."), ("OBX[2].5", "Copay of €25 collected at discharge."),
                       ("PID.5.2", "Renée")],
                      note="values shown are with fallback charset windows-1252 (`carebridge inspect "
                           "--fallback-charset windows-1252`); with no fallback the message is read as UTF-8, "
                           "invalid bytes 4 (E9, 93, 94, 80), each becoming U+FFFD: OBX.5 = "
                           "\"Pt states she feels \\ufffdmuch better\\ufffd today.\", PID.5.2 = \"Ren\\ufffde\"",
                      invalid_bytes=4, fallback="cp1252"))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT^A03^ADT_A03", 10: "EDGE-UTF8-0014", 11: "P", 12: "2.5.1", 18: "UNICODE UTF-8"}),
            "EVN|A03|20261120143005-0500",
            "PID|1||E1014^^^EDGEHOSP^MR||王^小明^^^^^L~Wang^Xiaoming^^^^^A||19920229|M|||"
            "88 Nathan Rd^^九龍^HK^^HKG",
            "NK1|1|Παπαδοπούλου^Ελένη|SPO^Spouse^HL70063",
            "NK1|2|Иванова^Мария|FND^Friend^HL70063",
            edge_pv1("315", "V7014", p44="20261118080000-0500"),
            "DG1|1|I10|J18.9^Pneumonia, unspecified organism^I10||20261118|A",
            "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10||20261118|F"]
    cases.append(Case("utf8_unicode_msh18.hl7", er7(segs, encoding="utf-8"),
                      "UTF-8 declared by MSH-18 `UNICODE UTF-8`; Chinese, Greek and Cyrillic names",
                      [("MSH.18", "UNICODE UTF-8"), ("PID.5.1", "王"), ("PID.5.2", "小明"), ("PID.5[2].1", "Wang"),
                       ("PID.11.3", "九龍"), ("NK1.2.1", "Παπαδοπούλου"), ("NK1[2].2.2", "Мария"),
                       ("DG1[2].3.1", "E11.9")],
                      invalid_bytes=0))

    segs = [msh_seg({3: "EDGEAPP", 4: "EDGEHOSP", 5: "CAREBRIDGE", 6: "CB", 7: "20261120143005-0500",
                     9: "ADT^A03^ADT_A03", 10: "EDGE-BADUTF8-0015", 11: "P", 12: "2.5.1", 18: "UNICODE UTF-8"}).encode(),
            b"EVN|A03|20261120143005-0500",
            b"PID|1||E1015^^^EDGEHOSP^MR||Bj\xc3(rk^An\xffa||19830315|F|||12 Elm St \xe2\x82^^Spring\xc0\xafield^OR^97477",
            "NK1|1|Öberg^Lena|SIS^Sister^HL70063".encode(),
            edge_pv1("316", "V7015", p44="20261118080000-0500").encode()]
    cases.append(Case("invalid_utf8.hl7", b"".join(s + b"\r" for s in segs),
                      "MSH-18 says UTF-8 but PID has invalid bytes: C3 before '(' (bad continuation), FF, "
                      "E2 82 cut short by '^', C0 AF (overlong '/'); a valid 'Ö' (C3 96) in NK1",
                      [("PID.5.1", "Bj\ufffd(rk"), ("PID.5.2", "An\ufffda"), ("PID.11.1", "12 Elm St \ufffd\ufffd"),
                       ("PID.11.3", "Spring\ufffd\ufffdield"), ("NK1.2.1", "Öberg"), ("PV1.45", "20261120140000-0500")],
                      note="invalid bytes 6, each replaced by one U+FFFD (one per byte, not per maximal subpart)",
                      invalid_bytes=6))

    segs = edge_base("EDGE-ACK-0016", PID_LINDGREN, msh_tail={15: "AL", 16: "NE"})
    cases.append(Case("msh15_al_msh16_ne.hl7", er7(segs),
                      "enhanced acknowledgment mode: MSH-15 AL (always send an accept ACK: CA/CE/CR after commit), "
                      "MSH-16 NE (never an application ACK)",
                      [("MSH.15", "AL"), ("MSH.16", "NE"), ("MSH.10", "EDGE-ACK-0016"), ("PID.5.1", "Lindgren")]))

    fhir = {"resourceType": "Patient", "id": "edge-json-0017",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.9", "value": "E1017"}],
            "name": [{"family": "Sample", "given": ["Casey"]}], "birthDate": "1990-01-01"}
    cases.append(Case("not_hl7_json.hl7", (json.dumps(fhir, indent=2) + "\n").encode(),
                      "not HL7: a FHIR Patient in JSON arriving where ER7 is expected", [],
                      note="refused as not HL7 v2 (`carebridge inspect` exits 1)", reject=True))
    cases.append(Case("empty.hl7", b"", "not HL7: an empty file (0 bytes)", [],
                      note="refused as not HL7 v2", reject=True))
    segs = edge_base("EDGE-MSX-0019", PID_LINDGREN)
    cases.append(Case("msx_header.hl7", er7(["MSX" + segs[0][3:]] + segs[1:]),
                      "not HL7: a complete message whose first segment is `MSX|` instead of `MSH|`", [],
                      note="refused as not HL7 v2", reject=True))
    cases.append(Case("truncated_msh.hl7", b"MSH|^~",
                      "not HL7: the 6 bytes `MSH|^~` and nothing else (no terminator)", [],
                      note="refused as not HL7 v2", reject=True))
    return cases


# --------------------------------------------------------------------------------------------
# batch/ files
# --------------------------------------------------------------------------------------------

def batch_msg(ctrl: str, event: str, mrn: str, fam: str, given: str, visit: str, sent: str) -> list[str]:
    disch = "|20261120140000-0500" if event == "A03" else ""
    return [f"MSH|^~\\&|HPCLINIC|HARBORPOINT|CAREBRIDGE|CB|{sent}||ADT^{event}^{STRUCT[event]}|{ctrl}|P|2.5.1",
            f"EVN|{event}|{sent}",
            f"PID|1||{mrn}^^^HARBORPOINT^MR||{fam}^{given}||19700101|U",
            f"PV1|1|O|CLINIC^^^HARBORPOINT|R|||||||||||||||{visit}^^^HARBORPOINT^VN||||||||||||||||"
            f"{'01' if event == 'A03' else ''}||||||||20261120080000-0500{disch}",
            "DG1|1|I10|Z00.00^Encounter for general adult medical examination without abnormal findings^I10||20261120|F"]


BATCH_MSGS = [
    ("HP-B1-0001", "A04", "HP100201", "Marsh", "Wendell", "HV5001", "20261120090102-0500"),
    ("HP-B1-0002", "A08", "HP100202", "Ibarra", "Lucia", "HV5002", "20261120091544-0500"),
    ("HP-B1-0003", "A03", "HP100203", "Whitcombe", "Harold", "HV5003", "20261120093010-0500"),
    ("HP-B2-0004", "A04", "HP100204", "Tran", "Bao", "HV5004", "20261120101203-0500"),
    ("HP-B2-0005", "A03", "HP100205", "Kaur", "Simran", "HV5005", "20261120103355-0500"),
    ("HP-B2-0006", "A08", "HP100206", "Oyelaran", "Tomi", "HV5006", "20261120104718-0500"),
]


@dataclass
class BatchCase:
    file: str
    data: bytes
    exercises: str
    controls: list[str]
    bts: list[str]
    fts: list[str]
    fhs: int
    bhs: int
    expect: str


def batch_cases() -> list[BatchCase]:
    out: list[BatchCase] = []
    fhs = "FHS|^~\\&|HPCLINIC|HARBORPOINT|CAREBRIDGE|CB|20261120235900-0500||hp_adt_20261120.hl7|nightly ADT|HPF-20261120"

    def bhs(n):
        return f"BHS|^~\\&|HPCLINIC|HARBORPOINT|CAREBRIDGE|CB|20261120235900-0500||ADT batch {n}||HPB-20261120-{n}"

    def msgs(idx):
        return [s for i in idx for s in batch_msg(*BATCH_MSGS[i])]

    ctrl = [m[0] for m in BATCH_MSGS]
    segs = [fhs, bhs(1)] + msgs([0, 1, 2]) + ["BTS|3|3 messages", "FTS|1|1 batch"]
    out.append(BatchCase("fhs_bhs_3msgs.hl7", er7(segs), "a complete file batch: FHS, BHS, 3 messages, BTS|3, FTS|1",
                         ctrl[:3], ["3"], ["1"], 1, 1, "3 messages, counts agree, no issue"))
    segs = [fhs, bhs(1)] + msgs([0, 1]) + ["BTS|2", bhs(2)] + msgs([3]) + ["BTS|1", "FTS|2"]
    out.append(BatchCase("two_batches.hl7", er7(segs), "one file with two BHS batches (2 + 1 messages), FTS|2",
                         [ctrl[0], ctrl[1], ctrl[3]], ["2", "1"], ["2"], 1, 2, "3 messages, counts agree, no issue"))
    segs = [fhs, bhs(1)] + msgs([3, 4, 5]) + ["BTS|5", "FTS|1"]
    out.append(BatchCase("bts_count_wrong.hl7", er7(segs), "BTS-1 says 5 but the batch holds 3 messages",
                         ctrl[3:6], ["5"], ["1"], 1, 1,
                         "3 messages, all parse; one count issue (BTS-1 says 5, found 3), reported, not fatal"))
    segs = [bhs(1)] + msgs([0, 4]) + ["BTS|2"]
    out.append(BatchCase("bhs_without_fhs.hl7", er7(segs), "a batch without file header: BHS, 2 messages, BTS|2",
                         [ctrl[0], ctrl[4]], ["2"], [], 0, 1, "2 messages, counts agree, no issue"))
    segs = msgs([0, 2, 5])
    out.append(BatchCase("concatenated_no_envelope.hl7", er7(segs),
                         "3 messages one after another with no FHS/BHS/BTS/FTS",
                         [ctrl[0], ctrl[2], ctrl[5]], [], [], 0, 0, "3 messages, no batch, no issue"))
    segs = [fhs, bhs(1)] + msgs([1, 3, 4]) + ["BTS|3", "FTS|1"]
    out.append(BatchCase("batch_lf.hl7", er7(segs, "\n"), "a complete file batch with LF terminators",
                         [ctrl[1], ctrl[3], ctrl[4]], ["3"], ["1"], 1, 1, "3 messages, counts agree, no issue"))
    return out


# --------------------------------------------------------------------------------------------
# Writing, checking, READMEs
# --------------------------------------------------------------------------------------------

def md_cell(v: str) -> str:
    """A value for a Markdown table cell, in backticks; `` when empty."""
    v = v.replace("|", "\\|")
    if "`" in v:
        return f"`` {v} ``"
    return f"`{v}`" if v else "(empty)"


def adt_files() -> dict[str, bytes]:
    files = {}
    for e in ENCOUNTERS:
        files[e.file] = er7(build_adt(e), encoding=e.hosp.encoding)
    files[ORU_ENCOUNTER.file] = er7(build_oru(ORU_ENCOUNTER, ORU_PANELS), encoding=CASCADIA.encoding)
    for e in NEW_ENCOUNTERS:
        assert e.file not in files, e.file
        files[e.file] = er7(build_message(e), encoding=e.hosp.encoding)
    for e, panels, placer, filler in NEW_ORUS:
        assert e.file not in files, e.file
        files[e.file] = er7(build_lab_oru(e, panels, placer, filler), encoding=e.hosp.encoding)
    return files


def file_notes() -> dict[str, str]:
    return {e.file: e.note for e in NEW_ENCOUNTERS + [o[0] for o in NEW_ORUS]}


ADT_COLUMNS = ["MSH.10", "PID.3[1].1", "PID.5.1", "PV1.19.1", "PV1.45", "DG1[2].3.1"]
VISIT_COLUMNS = ["MSH.4.1", "PV1.2", "PV1.4", "PV1.6.1", "PV1.13", "PV1.36", "PV1.44", "MRG.1.1"]
NAME_RE = re.compile(r"^([a-z]+)_v(\d+)_(A\d\d|ORU_R01)_(\d\d)\.hl7$")


def check_stories(files: dict[str, bytes]) -> None:
    """Messages that belong together agree on the identifiers that tie them."""
    m = {name: RefMessage(data) for name, data in files.items()}
    stay = [f.file for f in (DOHERTY_A01, DOHERTY_A02, DOHERTY_A08, DOHERTY_A03, DOHERTY_ORU)]
    assert [m[f].get("MSH.9.2") for f in stay] == ["A01", "A02", "A08", "A03", "R01"]
    for f in stay:
        assert (m[f].get("PID.3[1].1"), m[f].get("PV1.19.1")) == ("SB21288734", "4471782215"), f
    assert m[DOHERTY_A02.file].get("PV1.6.1") == "CCU" and m[DOHERTY_A02.file].get("PV1.3.1") == "5N"
    for later, earlier in [(ADEYEMI_A11.file, "lakeshore_v251_A01_01.hl7"), (HARTLEY_A13.file, "riverbend_v23_A03_01.hl7"),
                           (HARTLEY_A03_AGAIN.file, "riverbend_v23_A03_01.hl7"),
                           (NGUYEN_A12.file, "cascadia_v28_A03_01.hl7"), (NOWAK_ED_DC.file, NOWAK_ED.file),
                           (QUINLAN_A06.file, QUINLAN_OBS.file), (MACALLISTER_ORU.file, "northfield_v26_A03_02.hl7")]:
        for path in ("PID.3[1].1", "PV1.19.1"):
            assert m[later].get(path) == m[earlier].get(path), (later, earlier, path)
    assert m[NOWAK_ED.file].get("PID.3[4].1") == m["lakeshore_v251_A03_01.hl7"].get("PID.3[1].1")
    assert m[NOWAK_ED.file].get("PID.3[4].4.1") == "LUH" and m[NOWAK_ED.file].get("PID.3[5].5") == "MC"
    assert m[PATEL_A40.file].get("MRG.1.1") == m["northfield_v26_A04_01.hl7"].get("PID.3[1].1")
    assert m[HARTLEY_A13.file].get("PV1.45") == "" and m[HARTLEY_A13.file].get("PV1.36") == ""
    assert m[QUINLAN_OBS.file].get("PID.5.1") == "Ferris & Quinlan"


def check_adt(files: dict[str, bytes]) -> list[list[str]]:
    rows = []
    for name, data in sorted(files.items()):
        assert data.endswith(b"\r") and b"\n" not in data, name
        m = RefMessage(data)
        assert m.invalid_bytes == 0, name
        if m.get("MSH.9.2") == "A03":
            assert 1000 <= len(data) <= 3072, f"{name}: {len(data)} bytes, want 1-3 KB"
            assert m.get("PV1.45") and m.get("PV1.36") and m.count("DG1") >= 3, name
        for sid in ("MSH", "PID", "PV1"):
            assert m.count(sid) == 1, (name, sid)
        n = NAME_RE.match(name)
        assert n and n.group(2) == m.get("MSH.12").replace(".", ""), name
        assert n.group(3) in (m.get("MSH.9.2"), f"{m.get('MSH.9.1')}_{m.get('MSH.9.2')}"), name
        rows.append([name, m.get("MSH.12"), m.raw("MSH.9"), str(len(data))] + [m.get(p) for p in ADT_COLUMNS])
    return rows


def adt_readme(rows: list[list[str]], files: dict[str, bytes]) -> str:
    lines = [
        "# adt/ — realistic ADT and ORU messages from five fictional hospitals",
        "",
        "Written by `../make_samples.py` (do not edit by hand; change the script and re-run it). CR (0x0D)",
        "terminates every segment, the last one included. All people and organisations are fictional.",
        "",
        "| sender | version | habits |",
        "|---|---|---|",
    ]
    for h in SENDERS:
        lines.append(f"| {h.name} (`{h.key}_*`, MSH-4 `{h.facility.split('^')[0]}`) | {h.version} | "
                     f"{' '.join(h.__doc__.split()).split(': ', 1)[1]} |")
    lines += [
        "",
        "Decoded values (the `carebridge inspect --get PATH` form; composites come back as ER7 text):",
        "",
        "| file | version | MSH-9 | bytes | " + " | ".join(ADT_COLUMNS) + " |",
        "|---" * (4 + len(ADT_COLUMNS)) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join([f"`{r[0]}`", r[1], md_cell(r[2]), r[3]] + [md_cell(v) for v in r[4:]]) + " |")
    lines += ["", "The ADT^A03 files (MSH-9.2 `A03`) are the input of `tests/bench/codec_bench.sh` and of "
              "`conformance/peers/medplum_hl7_bench.mjs`; every `*.hl7` file here is sent by "
              "`tests/bench/mllp_bench.sh` and `deploy/demo.sh`.", ""]
    lines += visit_table(files) + scenarios() + config_tables()
    return "\n".join(lines)


def visit_table(files: dict[str, bytes]) -> list[str]:
    lines = ["Visit fields (same form; `MRG.1.1` only in the A40):", "",
             "| file | MSH-9.2 | " + " | ".join(VISIT_COLUMNS) + " |", "|---" * (2 + len(VISIT_COLUMNS)) + "|"]
    for name, data in sorted(files.items()):
        m = RefMessage(data)
        lines.append("| " + " | ".join([f"`{name}`", m.get("MSH.9.2")] + [md_cell(m.get(p)) for p in VISIT_COLUMNS])
                     + " |")
    return lines + [""]


def scenarios() -> list[str]:
    lines = ["## Scenarios of the second set", "",
             "Files that belong together share PID-3 and PV1-19 (checked by the script). Times without an offset",
             "are local time of the sender's zone (table below); 2026-11-01 02:00 is the end of DST in the US.", ""]
    for name, note in file_notes().items():
        lines.append(f"- `{name}`: {note}.")
    return lines + [""]


def config_tables() -> list[str]:
    lines = [
        "## Per-facility configuration (`hospitals.json`)",
        "",
        "What the mapper needs to know about each sender, keyed by MSH-4.1; `hospitals.json` holds the same",
        "data for the golden tests. The script checks it against the files: every assigning authority sent",
        "(PID-3, PID-18, PV1-19, IN1-49, MRG-1, XCN-9) has a system, every PV1-2/PV1-4/PV1-36 value outside",
        "the HL7 table (0004, 0007) or the NUBC list has a local entry, every offset sent is the zone's.",
        "",
        "- `time_zone`: IANA zone for timestamps without an offset (DST-aware; America/Phoenix has none).",
        "- `identifier_systems`: CX-4 / XCN-9 namespace (HD-1) -> `Identifier.system`. The facility's own",
        "  namespace gives its MRN system; it wins over an OID sent in HD-2 (the same OID where one is sent).",
        "- `identifier_systems_by_type`: CX-5 type -> namespace -> system, for the facility's own numbers",
        "  that are not MRNs (VN visit, AN account, PI internal id); it takes precedence over the plain map.",
        "- `practitioner_system_default`: for XCN ids sent without an authority (`null`: all have one).",
        "- `code_systems`: local CWE-3 coding-system names -> URI.",
        "- `local_codes`: values that are not in the HL7 table (or, for PV1-36, not NUBC codes) -> the",
        "  code to use: `patient_class` -> v3 ActCode, `discharge_disposition` -> NUBC UB-04 FL17 status,",
        "  `admission_type` -> HL7 table 0007, `lab` -> LOINC.",
        "",
        "| MSH-4.1 | sender | time zone | offset Nov 2026 / Jul 2026 | identifier systems |",
        "|---|---|---|---|---|",
    ]
    for f in FACILITIES:
        z = ZoneInfo(f.time_zone)
        offs = " / ".join(datetime(2026, mo, 15, 12, tzinfo=z).strftime("%z") for mo in (11, 7))
        ids = [f"`{a}` {u}" for a, u in f.identifier_systems().items()]
        ids += [f"`{a}`+{t} {u}" for t, d in f.by_type().items() for a, u in d.items()]
        if f.practitioner_default:
            ids.append(f"XCN without authority {f.practitioner_default}")
        lines.append(f"| `{f.facility}` | {f.hosp.name} | {f.time_zone} | {offs} | {'; '.join(ids)} |")
    lines += ["", "Local codes (codes not in any file are part of the sender's table all the same):", "",
              "| MSH-4.1 | field | local code | means | map to | in the files |", "|---|---|---|---|---|---|"]
    fields = {"patient_class": "PV1-2", "discharge_disposition": "PV1-36", "admission_type": "PV1-4",
              "lab": "OBR-4 / OBX-3 (first triplet)"}
    used = {}
    for name, data in adt_files().items():
        m = RefMessage(data)
        fac = m.get("MSH.4.1")
        for p in ("PV1.2", "PV1.4", "PV1.36"):
            used.setdefault((fac, m.get(p)), []).append(name)
        for path in ("OBR.4", "OBX.3"):
            for cwe in occurrences(m, path):
                used.setdefault((fac, cwe.split(m.cs)[0]), []).append(name)
    for f in FACILITIES:
        for kind, codes in f.local.items():
            for code, (target, meaning) in codes.items():
                where = sorted(set(used.get((f.facility, code), [])))
                lines.append(f"| `{f.facility}` | {fields[kind]} | `{code}` | {meaning} | `{target}` | "
                             f"{', '.join(f'`{w}`' for w in where) or '-'} |")
    for f in FACILITIES:
        for name, uri in f.code_systems.items():
            lines.append(f"| `{f.facility}` | CWE-3 | `{name}` | local lab code system | {uri} | |")
    return lines + [""]


def check_edge(cases: list[Case]) -> None:
    for c in cases:
        if c.reject:
            try:
                RefMessage(c.data)
            except ValueError:
                continue
            raise AssertionError(f"{c.file} should be refused")
        m = RefMessage(c.data, fallback=c.fallback)
        for path, want in c.expect:
            got = m.get(path)
            assert got == want, f"{c.file} {path}: got {got!r}, want {want!r}"
        if c.invalid_bytes is not None:
            assert m.invalid_bytes == c.invalid_bytes, (c.file, m.invalid_bytes)
        if c.segments is not None:
            assert len(m.segments) == c.segments, (c.file, len(m.segments))
        if c.check_extra is not None:
            assert c.check_extra(m), c.file


def jdump(v: str) -> str:
    """A value as a JSON string: readable UTF-8, but U+FFFD and control characters escaped."""
    return json.dumps(v, ensure_ascii=False).replace("\ufffd", "\\ufffd")


def edge_readme(cases: list[Case]) -> str:
    lines = [
        "# edge/ — one odd real-world case per file",
        "",
        "Written by `../make_samples.py` (do not edit by hand). Each line: the file, what it exercises, and",
        "expected decoded values as `PATH = value` (paths as in `carebridge inspect --get`, 1-based:",
        "`SEG[n].F[r].C.S`; values in UTF-8, escapes decoded; a composite path gives its ER7 text).",
        "Decoding rules assumed (spec §3/§6 and `mappings/hl7v2/escape.hpp`): segment terminators are any",
        "run of CR/LF; a leading UTF-8 BOM is dropped; `\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\P\\` give the",
        "delimiter; `\\Xhh..\\` gives those bytes in the message's charset, `\\X000d\\` is one CR; `\\.br\\`",
        "is LF; `\\H\\ \\N\\` stay verbatim; an invalid byte becomes one U+FFFD and is counted.",
        "Values are written as JSON strings. `carebridge inspect --get` prints an LF inside a value as the",
        "two characters `\\n` (one value per line); the decoded value itself holds the LF.",
        "",
    ]
    for c in cases:
        exp = "; ".join(f"`{p}` = {jdump(v)}" for p, v in c.expect)
        parts = [f"- `{c.file}` ({len(c.data)} bytes): {c.exercises}."]
        if c.segments is not None:
            parts.append(f"{c.segments} segments.")
        if exp:
            parts.append(f"Expect {exp}.")
        if c.invalid_bytes is not None and "invalid bytes" not in c.note:
            parts.append(f"Invalid bytes {c.invalid_bytes}.")
        if c.note:
            parts.append(c.note[0].upper() + c.note[1:] + ".")
        lines.append(" ".join(parts))
    lines.append("")
    return "\n".join(lines)


def check_batch(cases: list[BatchCase]) -> None:
    for c in cases:
        msgs, env = split_batch(c.data)
        got = [RefMessage(m).get("MSH.10") for m in msgs]
        assert got == c.controls, (c.file, got)
        assert env["BTS"] == c.bts and env["FTS"] == c.fts, (c.file, env)
        assert env["FHS"] == c.fhs and env["BHS"] == c.bhs, (c.file, env)


def batch_readme(cases: list[BatchCase]) -> str:
    lines = [
        "# batch/ — batch envelopes (FHS/BHS/BTS/FTS) and concatenated messages",
        "",
        "Written by `../make_samples.py` (do not edit by hand). Messages are short ADT^A04/A08/A03 from the",
        "fictional Harbor Point Clinic (v2.5.1); CR terminators unless the line says otherwise.",
        "",
    ]
    for c in cases:
        env = []
        if c.fhs or c.bhs:
            env.append(f"FHS {c.fhs}, BHS {c.bhs}, BTS-1 {', '.join(c.bts) or '-'}, FTS-1 {', '.join(c.fts) or '-'}")
        lines.append(f"- `{c.file}` ({len(c.data)} bytes): {c.exercises}. Expect {c.expect}; MSH-10 in order: "
                     + ", ".join(f"`{x}`" for x in c.controls) + (f" ({env[0]})." if env else "."))
    lines.append("")
    return "\n".join(lines)


def all_outputs() -> dict[Path, bytes]:
    adt = adt_files()
    rows = check_adt(adt)
    check_stories(adt)
    check_config(adt)
    edges = edge_cases()
    check_edge(edges)
    batches = batch_cases()
    check_batch(batches)
    out: dict[Path, bytes] = {}
    for name, data in adt.items():
        out[HERE / "adt" / name] = data
    out[HERE / "adt" / "README.md"] = adt_readme(rows, adt).encode()
    out[HERE / "adt" / "hospitals.json"] = hospitals_json()
    for c in edges:
        out[HERE / "edge" / c.file] = c.data
    out[HERE / "edge" / "README.md"] = edge_readme(edges).encode()
    for c in batches:
        out[HERE / "batch" / c.file] = c.data
    out[HERE / "batch" / "README.md"] = batch_readme(batches).encode()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk; write nothing")
    args = ap.parse_args()
    outputs = all_outputs()
    if args.check:
        bad = [p for p, d in outputs.items() if not p.exists() or p.read_bytes() != d]
        for p in bad:
            print(f"differs: {p.relative_to(HERE)}", file=sys.stderr)
        return 1 if bad else 0
    for p, d in outputs.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(d)
    print(f"wrote {len(outputs)} files under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
