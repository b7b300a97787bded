//! A fleet meter's telegram, decrypted with the cbc crate and read field by field.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use chrono::{TimeZone, Utc};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::{Fault, FaultKind, Fleet, MeterKind};

#[test]
fn telegram_carries_register_status_and_due_value() {
    let mut f = Fleet::generate(23, 80);
    let m = f
        .meters()
        .iter()
        .find(|m| m.kind() == MeterKind::House)
        .unwrap()
        .index();
    f.inject(
        m,
        Fault::new(
            FaultKind::Leak { litres_per_hour: 5 },
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        ),
    )
    .unwrap();
    let t = Utc.with_ymd_and_hms(2026, 3, 14, 15, 20, 0).unwrap();
    let frame = f.telegram(m, t, FrameFormat::NoCrc).unwrap();
    let meter = f.meter(m).unwrap();

    assert_eq!(usize::from(frame[0]), frame.len() - 1);
    assert_eq!(frame[1], 0x44);
    assert_eq!(
        u16::from_le_bytes([frame[2], frame[3]]),
        meter.address().manufacturer.code()
    );
    assert_eq!(frame[9], 0x07);
    assert_eq!(frame[10], 0x7A);
    let acc = frame[11];
    assert_eq!(frame[12], 0x20, "status byte: leak");
    let cfg = u16::from_le_bytes([frame[13], frame[14]]);
    assert_eq!((cfg >> 8) & 0x1F, 5);
    let blocks = usize::from((cfg >> 4) & 0x0F);
    assert_eq!(frame.len() - 15, blocks * 16);

    let mut iv = [acc; 16];
    iv[..8].copy_from_slice(&frame[2..10]);
    let mut buf = frame[15..].to_vec();
    let p = cbc::Decryptor::<aes::Aes128>::new(&meter.key().into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(&p[..2], &[0x2F, 0x2F]);
    assert_eq!(&p[2..4], &[0x04, 0x13]);
    let litres = u32::from_le_bytes(p[4..8].try_into().unwrap());
    assert_eq!(i64::from(litres), f.register_at(m, t).unwrap().ml() / 1000);
    assert_eq!(&p[8..10], &[0x04, 0x6D]);
    // 15:20 UTC is 16:20 in Warsaw in March (winter time); year 26 = 0b11_010.
    assert_eq!(&p[10..14], &[20, 16 | 0x20, 14 | (2 << 5), 3 | (3 << 4)]);
    assert_eq!(&p[14..17], &[0x02, 0xFD, 0x17]);
    assert_eq!(u16::from_le_bytes([p[17], p[18]]), 0x0001);
    assert_eq!(&p[19..21], &[0x44, 0x13]);
    let due = u32::from_le_bytes(p[21..25].try_into().unwrap());
    let first_march = Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap();
    assert_eq!(
        i64::from(due),
        f.register_at(m, first_march).unwrap().ml() / 1000
    );
    assert_eq!(&p[25..27], &[0x42, 0x6C]);
    assert_eq!(&p[27..29], &[28 | (2 << 5), 2 | (3 << 4)]);
    assert!(p[29..].iter().all(|&b| b == 0x2F));
}
