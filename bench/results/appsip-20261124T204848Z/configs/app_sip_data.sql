-- Test data for freeDiameter app_sip (schema: doc/app_sip.sql of the Debian source package
-- freediameter 1.2.1). app_sip's queries hard-code the "ds_" table prefix. alice / secret; the
-- stored SIP_Server_URI equals what run.sh sends (mara-bench --server-uri), so a MAR is three
-- SELECTs and no write (another URI makes app_sip UPDATE the user on every MAR).
INSERT INTO ds_users (id_user, username, password, SIP_Server_URI, temp_SIP_Server_URI, authentication_pending, registrated)
  VALUES (1, 'alice', 'secret', 'sip:127.0.0.1:5060', NULL, 0, 0);
INSERT INTO ds_sip_aor (id_sip_aor, id_user, sip_aor, sip_server_uri, registered)
  VALUES (1, 1, 'sip:alice@test', 'sip:127.0.0.1:5060', 0);
