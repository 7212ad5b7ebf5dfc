DROP TABLE device_observations;
DROP TABLE devices;
