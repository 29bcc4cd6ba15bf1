-- The phone the commerce platform sent with the profile (customer.registered / .updated carry it since
-- issue 19), kept apart from the one the customer set in their preferences (`phone`, which wins).
ALTER TABLE contacts ADD COLUMN profile_phone text;
