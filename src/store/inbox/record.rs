//! How one delivery is laid out in the inbox journal.
//!
//! ```text
//! record  = len:u32  generation:u64  crc:u32  payload[len]     (little endian)
//! payload = received_at:i64  installation:u8 [id:u64]  id:str  event:str
//!           action:u8 [action:str]  body:str                   (str = len:u32 bytes)
//! ```
//!
//! `crc` (CRC-32C) covers the generation and the payload, so a record torn by a crash, or
//! left over from a segment's earlier use (another generation), reads as the end of the log.

use bytes::Bytes;

use super::{NewDelivery, Stamped};
use crate::ids::DeliveryId;

const HEADER: usize = 4 + 8 + 4;
static CRC: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// The bytes [`encode`] appends for `delivery`.
pub fn encoded_len(delivery: &Stamped) -> usize {
    let d = &delivery.delivery;
    let installation = if d.installation_id.is_some() { 9 } else { 1 };
    let action = d.action.as_ref().map_or(1, |a| 5 + a.len());
    HEADER + 8 + installation + 4 + d.id.0.len() + 4 + d.event.len() + action + 4 + d.body.len()
}

/// Appends `delivery` as one record of `generation` to `out`.
pub fn encode(delivery: &Stamped, generation: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let d = &delivery.delivery;
    out.extend_from_slice(&delivery.received_at.to_le_bytes());
    match d.installation_id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(&id.to_le_bytes());
        }
        None => out.push(0),
    }
    put_str(out, d.id.0.as_bytes());
    put_str(out, d.event.as_bytes());
    match &d.action {
        Some(action) => {
            out.push(1);
            put_str(out, action.as_bytes());
        }
        None => out.push(0),
    }
    put_str(out, &d.body);
    let len = (out.len() - start - HEADER) as u32;
    let mut digest = CRC.digest();
    digest.update(&generation.to_le_bytes());
    digest.update(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 12].copy_from_slice(&generation.to_le_bytes());
    out[start + 12..start + HEADER].copy_from_slice(&digest.finalize().to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Every whole record of `generation` from the start of `log`, up to the first that is not.
pub fn decode_all(log: &[u8], generation: u64) -> Vec<Stamped> {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, used)) = decode_one(&log[at..], generation) {
        records.push(record);
        at += used;
    }
    records
}

fn decode_one(log: &[u8], generation: u64) -> Option<(Stamped, usize)> {
    let len = u32::from_le_bytes(log.get(0..4)?.try_into().ok()?) as usize;
    let stored_generation = u64::from_le_bytes(log.get(4..12)?.try_into().ok()?);
    let crc = u32::from_le_bytes(log.get(12..HEADER)?.try_into().ok()?);
    let payload = log.get(HEADER..HEADER.checked_add(len)?)?;
    if len == 0 || stored_generation != generation {
        return None;
    }
    let mut digest = CRC.digest();
    digest.update(&generation.to_le_bytes());
    digest.update(payload);
    if digest.finalize() != crc {
        return None;
    }
    Some((decode_payload(payload)?, HEADER + len))
}

fn decode_payload(payload: &[u8]) -> Option<Stamped> {
    let mut r = Reader(payload);
    let received_at = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let installation_id = match r.take(1)?[0] {
        1 => Some(u64::from_le_bytes(r.take(8)?.try_into().ok()?)),
        _ => None,
    };
    let id = r.string()?;
    let event = r.string()?;
    let action = match r.take(1)?[0] {
        1 => Some(r.string()?),
        _ => None,
    };
    let body = Bytes::copy_from_slice(r.str_bytes()?);
    Some(Stamped {
        delivery: NewDelivery {
            id: DeliveryId(id),
            event,
            action,
            installation_id,
            body,
        },
        received_at,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(len)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.str_bytes()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests;
