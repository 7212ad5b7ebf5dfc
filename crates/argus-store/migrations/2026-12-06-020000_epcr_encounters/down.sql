DROP TABLE encounter_access_log;
DROP TABLE encounters;
