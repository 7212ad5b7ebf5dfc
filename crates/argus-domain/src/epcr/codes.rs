//! The coded values of a patient care record, each with the terminology
//! codes its FHIR export needs.
//!
//! A value has a SNOMED CT coding where the concept is certain; every value
//! also has the local code (its text) under [`LOCAL_SYSTEM`], so a receiver
//! always has one coding it can match on.

use crate::text_enum::text_enum;

/// The local code system of the enums below: their text is the code.
pub const LOCAL_SYSTEM: &str = "https://api.knogin.com/fhir/CodeSystem/epcr";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";

/// One code of a terminology, as a FHIR `Coding` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

const fn sct(code: &'static str, display: &'static str) -> Code {
    Code { system: SNOMED, code, display }
}

const fn snomed(code: &'static str, display: &'static str) -> Option<Code> {
    Some(sct(code, display))
}

text_enum! {
    /// FHIR `AdministrativeGender`.
    pub enum AdministrativeSex("sex") {
        Male = "male",
        Female = "female",
        Other = "other",
        Unknown = "unknown",
    }
}

text_enum! {
    /// A vital sign the record takes, each with its LOINC code and UCUM
    /// unit (the FHIR vital-signs profile's, where it has one).
    pub enum VitalSign("vital sign") {
        HeartRate = "heart_rate",
        RespiratoryRate = "respiratory_rate",
        OxygenSaturation = "oxygen_saturation",
        BodyTemperature = "body_temperature",
        BloodPressure = "blood_pressure",
        Gcs = "gcs",
        BloodGlucose = "blood_glucose",
        PainScore = "pain_score",
    }
}

/// How a vital sign is coded and measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitalSignSpec {
    /// The LOINC code of the observation (of the panel, for blood pressure).
    pub loinc: Code,
    /// A second LOINC code the FHIR vital-signs profile asks for beside the
    /// first (SpO2 by pulse oximetry is also "oxygen saturation in arterial
    /// blood", 2708-6).
    pub also: Option<Code>,
    /// The UCUM unit values are stored in.
    pub unit: &'static str,
    /// The lowest and highest value accepted (a typo guard, wider than life).
    pub range: (f64, f64),
    /// Whether only whole numbers are accepted (scores).
    pub whole: bool,
}

pub(crate) const fn loinc(code: &'static str, display: &'static str) -> Code {
    Code { system: LOINC, code, display }
}

/// Blood pressure's two components, in the panel 85354-9.
pub const SYSTOLIC: Code = loinc("8480-6", "Systolic blood pressure");
pub const DIASTOLIC: Code = loinc("8462-4", "Diastolic blood pressure");

/// mg/dL per mmol/L of glucose (molar mass 180.16 g/mol).
pub const GLUCOSE_MG_DL_PER_MMOL_L: f64 = 18.016;

impl VitalSign {
    pub const fn spec(self) -> VitalSignSpec {
        let (loinc, also, unit, range, whole) = match self {
            Self::HeartRate => (loinc("8867-4", "Heart rate"), None, "/min", (0.0, 350.0), false),
            Self::RespiratoryRate => (loinc("9279-1", "Respiratory rate"), None, "/min", (0.0, 100.0), false),
            Self::OxygenSaturation => (
                loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                Some(loinc("2708-6", "Oxygen saturation in Arterial blood")),
                "%",
                (0.0, 100.0),
                false,
            ),
            Self::BodyTemperature => (loinc("8310-5", "Body temperature"), None, "Cel", (20.0, 46.0), false),
            Self::BloodPressure => (
                loinc("85354-9", "Blood pressure panel with all children optional"),
                None,
                "mm[Hg]",
                (0.0, 350.0),
                false,
            ),
            Self::Gcs => (loinc("9269-2", "Glasgow coma score total"), None, "{score}", (3.0, 15.0), true),
            Self::BloodGlucose => {
                (loinc("2339-0", "Glucose [Mass/volume] in Blood"), None, "mg/dL", (0.0, 2000.0), false)
            }
            Self::PainScore => (
                loinc("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
                None,
                "{score}",
                (0.0, 10.0),
                true,
            ),
        };
        VitalSignSpec { loinc, also, unit, range, whole }
    }
}

text_enum! {
    /// A medicine ambulance clinicians give (UK JRCALC formulary).
    pub enum Medication("medication") {
        Aspirin = "aspirin",
        GlycerylTrinitrate = "glyceryl_trinitrate",
        Morphine = "morphine",
        Fentanyl = "fentanyl",
        NitrousOxide = "nitrous_oxide",
        Paracetamol = "paracetamol",
        Ibuprofen = "ibuprofen",
        Ondansetron = "ondansetron",
        Salbutamol = "salbutamol",
        Adrenaline = "adrenaline",
        Amiodarone = "amiodarone",
        Naloxone = "naloxone",
        Glucagon = "glucagon",
        Glucose = "glucose",
        Oxygen = "oxygen",
        Clopidogrel = "clopidogrel",
        Ticagrelor = "ticagrelor",
    }
}

impl Medication {
    /// The substance's SNOMED CT concept.
    pub const fn coding(self) -> Option<Code> {
        match self {
            Self::Aspirin => snomed("387458008", "Aspirin"),
            Self::GlycerylTrinitrate => snomed("387404004", "Nitroglycerin"),
            Self::Morphine => snomed("373529000", "Morphine"),
            Self::Fentanyl => snomed("373492002", "Fentanyl"),
            Self::NitrousOxide => snomed("111132001", "Nitrous oxide"),
            Self::Paracetamol => snomed("387517004", "Paracetamol"),
            Self::Ibuprofen => snomed("387207008", "Ibuprofen"),
            Self::Ondansetron => snomed("372487007", "Ondansetron"),
            Self::Salbutamol => snomed("372897005", "Salbutamol"),
            Self::Adrenaline => snomed("387362001", "Epinephrine"),
            Self::Amiodarone => snomed("372821002", "Amiodarone"),
            Self::Naloxone => snomed("372890007", "Naloxone"),
            Self::Glucagon => snomed("66603002", "Glucagon"),
            Self::Glucose => snomed("67079006", "Glucose"),
            Self::Oxygen => snomed("24099007", "Oxygen"),
            Self::Clopidogrel => snomed("386952008", "Clopidogrel"),
            Self::Ticagrelor => snomed("698805004", "Ticagrelor"),
        }
    }

    /// Whether it is given for pain (the STEMI care bundle's analgesia).
    pub const fn is_analgesic(self) -> bool {
        matches!(self, Self::Morphine | Self::Fentanyl | Self::NitrousOxide | Self::Paracetamol | Self::Ibuprofen)
    }
}

text_enum! {
    /// The route a medicine is given by.
    pub enum MedicationRoute("route") {
        Oral = "oral",
        Sublingual = "sublingual",
        Buccal = "buccal",
        Intravenous = "intravenous",
        Intraosseous = "intraosseous",
        Intramuscular = "intramuscular",
        Subcutaneous = "subcutaneous",
        Intranasal = "intranasal",
        Inhaled = "inhaled",
        Rectal = "rectal",
    }
}

impl MedicationRoute {
    pub const fn coding(self) -> Option<Code> {
        match self {
            Self::Oral => snomed("26643006", "Oral route"),
            Self::Sublingual => snomed("37839007", "Sublingual route"),
            Self::Buccal => snomed("54471007", "Buccal route"),
            Self::Intravenous => snomed("47625008", "Intravenous route"),
            Self::Intraosseous => snomed("60213007", "Intraosseous route"),
            Self::Intramuscular => snomed("78421000", "Intramuscular route"),
            Self::Subcutaneous => snomed("34206005", "Subcutaneous route"),
            Self::Intranasal => snomed("46713006", "Nasal route"),
            Self::Inhaled => snomed("447694001", "Respiratory tract route"),
            Self::Rectal => snomed("37161004", "Rectal route"),
        }
    }
}

/// The UCUM units a dose may be written in.
pub const DOSE_UNITS: &[&str] = &["mg", "ug", "g", "mL", "mmol", "[iU]", "L/min", "%", "{puff}"];

text_enum! {
    /// Why a medicine that a care bundle expects was not given.
    pub enum WithheldReason("reason") {
        Contraindicated = "contraindicated",
        Declined = "declined",
        AlreadyTaken = "already_taken",
        Unavailable = "unavailable",
    }
}

text_enum! {
    /// A procedure or assessment on scene or on the way.
    pub enum Procedure("procedure") {
        Ecg12Lead = "ecg_12_lead",
        FastAssessment = "fast_assessment",
        Cpr = "cpr",
        Defibrillation = "defibrillation",
        SupraglotticAirway = "supraglottic_airway",
        EndotrachealIntubation = "endotracheal_intubation",
        IntravenousCannulation = "intravenous_cannulation",
        IntraosseousAccess = "intraosseous_access",
        SpinalImmobilisation = "spinal_immobilisation",
        HaemorrhageControl = "haemorrhage_control",
    }
}

impl Procedure {
    pub const fn coding(self) -> Option<Code> {
        match self {
            Self::Ecg12Lead => snomed("268400002", "12 lead electrocardiogram"),
            Self::Cpr => snomed("89666000", "Cardiopulmonary resuscitation"),
            Self::EndotrachealIntubation => snomed("112798008", "Insertion of endotracheal tube"),
            _ => None,
        }
    }

    /// A human-readable name (the FHIR `CodeableConcept.text`).
    pub const fn display(self) -> &'static str {
        match self {
            Self::Ecg12Lead => "12-lead ECG",
            Self::FastAssessment => "FAST stroke assessment (face, arm, speech, time)",
            Self::Cpr => "Cardiopulmonary resuscitation",
            Self::Defibrillation => "Defibrillation",
            Self::SupraglotticAirway => "Supraglottic airway inserted",
            Self::EndotrachealIntubation => "Endotracheal intubation",
            Self::IntravenousCannulation => "Intravenous cannulation",
            Self::IntraosseousAccess => "Intraosseous access",
            Self::SpinalImmobilisation => "Spinal immobilisation",
            Self::HaemorrhageControl => "Haemorrhage control",
        }
    }
}

text_enum! {
    /// A working impression (the clinician's diagnosis on scene).
    pub enum Condition("condition") {
        Stemi = "stemi",
        Nstemi = "nstemi",
        ChestPain = "chest_pain",
        Stroke = "stroke",
        CardiacArrest = "cardiac_arrest",
        Hypoglycaemia = "hypoglycaemia",
        Sepsis = "sepsis",
        Asthma = "asthma",
        CopdExacerbation = "copd_exacerbation",
        Anaphylaxis = "anaphylaxis",
        Seizure = "seizure",
        Overdose = "overdose",
        Trauma = "trauma",
        BreathingDifficulty = "breathing_difficulty",
    }
}

impl Condition {
    pub const fn coding(self) -> Code {
        match self {
            Self::Stemi => sct("401303003", "Acute ST segment elevation myocardial infarction"),
            Self::Nstemi => sct("401314000", "Acute non-ST segment elevation myocardial infarction"),
            Self::ChestPain => sct("29857009", "Chest pain"),
            Self::Stroke => sct("230690007", "Cerebrovascular accident"),
            Self::CardiacArrest => sct("410429000", "Cardiac arrest"),
            Self::Hypoglycaemia => sct("302866003", "Hypoglycemia"),
            Self::Sepsis => sct("91302008", "Sepsis"),
            Self::Asthma => sct("195967001", "Asthma"),
            Self::CopdExacerbation => sct("195951007", "Acute exacerbation of chronic obstructive airways disease"),
            Self::Anaphylaxis => sct("39579001", "Anaphylaxis"),
            Self::Seizure => sct("91175000", "Seizure"),
            Self::Overdose => sct("55680006", "Drug overdose"),
            Self::Trauma => sct("417746004", "Traumatic injury"),
            Self::BreathingDifficulty => sct("267036007", "Dyspnea"),
        }
    }
}

text_enum! {
    /// How the call ended for the patient.
    pub enum Outcome("outcome") {
        /// Taken to hospital.
        Conveyed = "conveyed",
        /// Treated on scene or referred, not taken to hospital.
        NotConveyed = "not_conveyed",
        /// Cardiac arrest with return of spontaneous circulation sustained
        /// to arrival at hospital.
        Rosc = "rosc",
        /// Recognition of life extinct: death confirmed on scene.
        Role = "role",
    }
}

impl Outcome {
    /// Whether the patient reached hospital.
    pub const fn conveyed(self) -> bool {
        matches!(self, Self::Conveyed | Self::Rosc)
    }
}

text_enum! {
    pub enum CrewRole("crew role") {
        Paramedic = "paramedic",
        EmergencyMedicalTechnician = "emt",
        EmergencyCareAssistant = "eca",
        Nurse = "nurse",
        Doctor = "doctor",
        Student = "student",
    }
}

text_enum! {
    /// Who saw the cardiac arrest happen (Utstein).
    pub enum ArrestWitness("witness") {
        Bystander = "bystander",
        Ems = "ems",
        Unwitnessed = "unwitnessed",
    }
}

text_enum! {
    /// The first monitored rhythm of a cardiac arrest (Utstein).
    pub enum ArrestRhythm("rhythm") {
        VentricularFibrillation = "vf",
        PulselessVentricularTachycardia = "pvt",
        PulselessElectricalActivity = "pea",
        Asystole = "asystole",
        Unknown = "unknown",
    }
}

impl ArrestRhythm {
    /// VF and pulseless VT respond to a shock.
    pub const fn shockable(self) -> bool {
        matches!(self, Self::VentricularFibrillation | Self::PulselessVentricularTachycardia)
    }
}
