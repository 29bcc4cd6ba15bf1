-- Runs once, when the postgres container starts on an empty volume (docker-entrypoint-initdb.d).
-- Same role and databases as infra/local/postgres.sh creates; the values match .env.example
-- (an init .sql file cannot read the environment: change both together).
CREATE ROLE flywheel LOGIN CREATEDB PASSWORD 'flywheel';
CREATE DATABASE flywheel_customers OWNER flywheel;
CREATE DATABASE flywheel_points OWNER flywheel;
CREATE DATABASE flywheel_referrals OWNER flywheel;
CREATE DATABASE flywheel_reviews OWNER flywheel;
CREATE DATABASE flywheel_notifications OWNER flywheel;
