-- Meter AES keys sealed for their meter: a format byte (2), then nonce ‖ ciphertext ‖ tag,
-- with `manufacturer:radio id` as AES-GCM associated data, 45 bytes. A sealed key copied onto
-- another meter's row no longer opens. The old unbound 44-byte keys stay allowed until the
-- collector re-seals them on its next load (`ewoda collect`): SQL has no master key to do it.
alter table meter drop constraint meter_aes_key_enc_check;
alter table meter add constraint meter_aes_key_enc_check
    check (aes_key_enc is null or length(aes_key_enc) in (44, 45));
comment on column meter.aes_key_enc is
    'meter AES key sealed under the master key: 45 bytes bound to manufacturer:radio_id (format 2), or 44 bytes old unbound format awaiting re-seal by the collector';
