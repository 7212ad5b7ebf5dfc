//! Fixtures for the tests of this crate and of the services: a whole
//! patient care record as a request body.

use serde_json::{Value, json};

/// A conveyed STEMI call whose body fills every part of the record: every
/// vital sign, a procedure with a SNOMED CT code and one without, a dose
/// and an oxygen flow, a medicine withheld, two impressions and two crew
/// members. No incident or device: it is valid in an empty tenant.
pub fn full_record_body() -> Value {
    json!({
        "patient": {
            "identifiers": [{"system": super::NHS_NUMBER_SYSTEM, "value": "9434765919"}],
            "name": {"given": ["Ada"], "family": "Lovelace"},
            "birth_date": "1956-03-14",
            "sex": "female"
        },
        "timeline": {
            "call_received": "2026-05-01T10:00:00Z",
            "on_scene": "2026-05-01T10:09:00Z",
            "at_hospital": "2026-05-01T11:00:00Z",
            "handover": "2026-05-01T11:20:00Z"
        },
        "vital_signs": [
            {"type": "heart_rate", "value": 96, "at": "2026-05-01T10:10:00Z"},
            {"type": "respiratory_rate", "value": 18, "at": "2026-05-01T10:10:00Z"},
            {"type": "oxygen_saturation", "value": 97, "at": "2026-05-01T10:10:00Z"},
            {"type": "body_temperature", "value": 36.8, "at": "2026-05-01T10:10:00Z"},
            {"type": "blood_pressure", "systolic": 150, "diastolic": 90, "at": "2026-05-01T10:11:00Z"},
            {"type": "gcs", "value": 15, "at": "2026-05-01T10:11:00Z"},
            {"type": "blood_glucose", "value": 5.5, "unit": "mmol/L", "at": "2026-05-01T10:12:00Z"},
            {"type": "pain_score", "value": 8, "at": "2026-05-01T10:10:00Z"}
        ],
        "procedures": [
            {"procedure": "ecg_12_lead", "at": "2026-05-01T10:13:00Z", "note": "ST elevation V2-V4"},
            {"procedure": "intravenous_cannulation", "at": "2026-05-01T10:14:00Z"}
        ],
        "medications": [
            {"medication": "aspirin", "dose": {"value": 300, "unit": "mg"}, "route": "oral", "at": "2026-05-01T10:15:00Z"},
            {"medication": "oxygen", "dose": {"value": 15, "unit": "L/min"}, "route": "inhaled", "at": "2026-05-01T10:16:00Z"}
        ],
        "medications_withheld": [{"medication": "glyceryl_trinitrate", "reason": "contraindicated"}],
        "impressions": ["stemi", "chest_pain"],
        "outcome": "conveyed",
        "destination": "Royal Infirmary, cath lab",
        "crew": [
            {"name": "Sam Medic", "role": "paramedic", "registration": "PA123456"},
            {"name": "Alex Tech", "role": "emt"}
        ]
    })
}
