// The clinical event: one normalized record per inbound message (HL7 v2 or FHIR), the thing the
// rest of the pipeline reasons about (member matching, attribution, encounter history, risk
// scoring). Both ingest paths produce the same record for the same real-world event: an ADT^A03 and
// a FHIR Encounter with status `finished` describe one discharge.
//
// Plain data, no I/O. to_json()/from_json() give the stored form (stable keys; absent values are
// left out). Times are FHIR dateTime text ("2026-11-20T14:30:00-06:00", or a date when the sending
// facility's time zone is unknown) so that precision is never invented.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::event {

enum class event_kind : std::uint8_t {
  admission,             // A01; A06 (outpatient → inpatient)
  transfer,              // A02
  discharge,             // A03; a finished Encounter
  registration,          // A04 (ED / outpatient registration)
  preadmission,          // A05
  change_to_outpatient,  // A07
  update,                // A08 and the ADT_A01-shaped updates
  cancel_admission,      // A11
  cancel_transfer,       // A12
  cancel_discharge,      // A13
  merge,                 // A40 (A34, A35 … merges of patient identifiers)
  lab_result,            // ORU^R01
  other,                 // any other ADT event (kept, not acted on)
};
std::string_view to_string(event_kind k) noexcept;
std::optional<event_kind> event_kind_from_string(std::string_view s) noexcept;

struct identifier {
  std::string system;  // URI when known; empty when the authority is unknown
  std::string value;
  std::string type;      // v2 table 0203 code: MR, MB, SS, VN, MC, MA, PI…
  std::string assigner;  // assigning authority as sent (HD.1), for display and overrides
  bool operator==(const identifier&) const = default;
};

struct coded {
  std::string system;  // URI (I10 → http://hl7.org/fhir/sid/icd-10-cm); empty when unknown
  std::string code;
  std::string display;
  std::string original_system;  // the v2 coding-system name or local code system as sent
  bool operator==(const coded&) const = default;
};

struct diagnosis {
  coded code;
  std::string use;          // diagnosis-role: AD (admitting), DD (discharge), billing, working…
  std::optional<int> rank;  // DG1-15: 1 = principal
  bool operator==(const diagnosis&) const = default;
};

struct procedure {
  coded code;
  std::string performed;  // dateTime
  bool operator==(const procedure&) const = default;
};

struct lab {
  coded code;                   // LOINC when the sender gave one (second triplet included)
  std::optional<double> value;  // numeric results
  std::string value_text;       // other results, as text
  std::string unit;
  std::string abnormal_flag;  // OBX-8
  std::string effective;      // dateTime (OBX-14, else OBR-7)
  bool operator==(const lab&) const = default;
};

struct clinical_event {
  event_kind kind = event_kind::other;
  std::string trigger;   // "A03", "R01", or the FHIR source ("Encounter", "notification-discharge")
  std::string source;    // "hl7v2" or "fhir"
  std::string facility;  // sending facility (MSH-4.1 or the registered FHIR sender)
  std::string control_id;  // MSH-10 or the FHIR Bundle/message id
  std::string recorded;    // when the event happened (EVN-6, EVN-2, MSH-7), dateTime

  // The patient.
  std::vector<identifier> patient_ids;  // PID-3 (MRN first), PID-2/4/19…
  std::string family, given;            // first name of PID-5
  std::string birth_date;               // YYYY-MM-DD (or shorter when sent so)
  std::string sex;                      // FHIR administrative-gender: male|female|other|unknown
  std::string postal_code;
  std::string phone;
  std::string member_id;               // IN1-49 / Coverage.subscriberId, when present
  std::vector<identifier> member_ids;  // every member-type id seen (MB, MBI, Medicaid)
  std::string patient_resource_id;     // the deterministic FHIR Patient id

  // The visit.
  std::string visit_id;                       // PV1-19 visit number (value)
  std::string encounter_resource_id;          // the deterministic FHIR Encounter id
  std::string patient_class;                  // v3 ActCode: IMP, EMER, AMB, OBSENC, PRENC, SS…
  std::string admit_time, discharge_time;     // dateTime
  std::string admission_type;                 // table 0007: E, U, EL/R, C, N
  coded admit_source;                         // PV1-14
  std::string service;                        // PV1-10 hospital service code
  coded discharge_disposition;                // PV1-36, NUBC when mapped
  bool readmission_flag = false;              // PV1-13 = R
  std::optional<double> length_of_stay_days;  // PV2-11 or computed by later stages
  std::vector<diagnosis> diagnoses;
  std::vector<procedure> procedures;
  std::vector<lab> labs;

  // Cancels and merges.
  std::vector<identifier> prior_patient_ids;  // A40 MRG-1: the ids merged away

  bool operator==(const clinical_event&) const = default;
};

/// The stored form: a compact JSON object.
std::string to_json(const clinical_event& e);
/// Reads the stored form back; error when it is not a clinical event object.
boost::system::result<clinical_event> from_json(std::string_view json);

}  // namespace carebridge::mappings::event
