//! Round trips and damage: what the writer writes, the reader reads back; what is broken,
//! the reader names by variant.

use super::*;
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// 4 MiB: room for both tables and three partitions, the swap between ESP and root as
/// fruix lays them out, and a label that is not ASCII.
const SECTORS: u64 = 8192;

fn guid(text: &str) -> Guid {
    text.parse().unwrap()
}

fn partition(n: u32, t: PartitionType, g: &str, first: u64, last: u64, label: &str) -> Partition {
    Partition {
        number: n,
        partition_type: t,
        guid: guid(g),
        first_lba: first,
        last_lba: last,
        attributes: 0,
        label: label.into(),
    }
}

fn sample() -> Table {
    let mut table = Table::new(guid("0B7D5C8E-1F2A-4B3C-9D4E-5F6A7B8C9D0E"), SECTORS);
    table.partitions = vec![
        partition(
            1,
            PartitionType::EfiSystem,
            "11111111-2222-4333-8444-555555555555",
            2048,
            4095,
            "efiboot",
        ),
        partition(
            2,
            PartitionType::FreebsdUfs,
            "A1B2C3D4-E5F6-4718-89AB-CDEF01234567",
            6144,
            8157,
            "fruix-root-ünïcode",
        ),
        partition(
            3,
            PartitionType::FreebsdSwap,
            "FEDCBA98-7654-4321-8FED-CBA987654321",
            4096,
            6143,
            "swapfs",
        ),
    ];
    table
}

fn written(table: &Table) -> Vec<u8> {
    let mut disk = Cursor::new(vec![0u8; (table.disk_sectors * 512) as usize]);
    write(table, &mut disk).unwrap();
    disk.into_inner()
}

fn read_bytes(bytes: &[u8]) -> Result<ReadReport, ReadError> {
    read(&mut Cursor::new(bytes))
}

/// Re-seals the CRC of the header sector at `at` after an edit.
fn reseal(bytes: &mut [u8], at: usize) {
    bytes[at + 16..at + 20].fill(0);
    let crc = crc32(&bytes[at..at + 92]);
    bytes[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
}

const LAST: usize = (SECTORS as usize - 1) * 512;
const BACKUP_ENTRIES: usize = LAST - 32 * 512;

#[test]
fn what_is_written_reads_back_clean() {
    let table = sample();
    let report = read_bytes(&written(&table)).unwrap();
    assert_eq!(report.problems, []);
    assert_eq!(report.source, TableCopy::Primary);
    let mut expected = table.clone();
    expected.partitions.sort_by_key(|p| p.number);
    assert_eq!(report.table, expected);
    assert_eq!(
        (report.table.first_usable_lba, report.table.last_usable_lba),
        (34, 8158)
    );
    let root = report
        .table
        .first_of_type(PartitionType::FreebsdUfs)
        .unwrap();
    assert_eq!((root.offset(), root.size()), (6144 * 512, 2014 * 512));
}

#[test]
fn the_bytes_are_those_the_gpt_crate_wrote() {
    // The same table written by the `gpt` crate 4.1.0 (which wrote fruix's images before
    // this module): its whole 4 MiB disk hashed to this.
    let digest = Sha256::digest(written(&sample()));
    assert_eq!(
        crate::store::hash::hex(&digest),
        "76ff59dc21e1706d03e1cc41141bd3b669152640cb2b4acd7477d2c2b8a8116c"
    );
}

#[test]
fn a_corrupted_header_crc_falls_back_to_the_backup() {
    let mut bytes = written(&sample());
    bytes[512 + 40] ^= 0x55;
    let report = read_bytes(&bytes).unwrap();
    assert_eq!(report.source, TableCopy::Backup);
    assert_eq!(report.table, sample_read());
    assert!(matches!(
        report.problems.as_slice(),
        [Problem::Header {
            copy: TableCopy::Primary,
            lba: 1,
            error: HeaderError::Crc { .. }
        }]
    ));
    assert_eq!(
        report.problems[0].to_string().split(" (").next(),
        Some("primary GPT header at LBA 1: header CRC32 mismatch")
    );
}

#[test]
fn corrupted_entries_are_named_and_both_copies_broken_is_an_error() {
    let mut bytes = written(&sample());
    bytes[BACKUP_ENTRIES + 100] ^= 1;
    let report = read_bytes(&bytes).unwrap();
    assert_eq!(report.source, TableCopy::Primary);
    assert!(matches!(
        report.problems.as_slice(),
        [Problem::Entries {
            copy: TableCopy::Backup,
            error: EntriesError::Crc { .. }
        }]
    ));
    bytes[1024 + 100] ^= 1;
    match read_bytes(&bytes) {
        Err(ReadError::NoValidCopy { problems }) => assert!(matches!(
            problems.as_slice(),
            [
                Problem::Entries {
                    copy: TableCopy::Primary,
                    error: EntriesError::Crc { .. }
                },
                Problem::Entries {
                    copy: TableCopy::Backup,
                    ..
                }
            ]
        )),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_backup_that_disagrees_with_the_primary_is_reported() {
    let mut other = sample();
    other.disk_guid = guid("00000000-0000-4000-8000-000000000001");
    other.partitions[0].label = "renamed".into();
    let (original, changed) = (written(&sample()), written(&other));
    let mut bytes = original.clone();
    bytes[BACKUP_ENTRIES..].copy_from_slice(&changed[BACKUP_ENTRIES..]);
    let report = read_bytes(&bytes).unwrap();
    assert_eq!(
        report.problems,
        [
            Problem::HeadersDisagree(HeaderField::DiskGuid),
            Problem::EntriesDiffer
        ]
    );
    assert_eq!(report.table.disk_guid, sample().disk_guid);
    // A backup header that names the wrong LBAs is reported, and still used.
    let mut bytes = original;
    bytes[1024..1024 + 16384].fill(0xAA);
    bytes[LAST + 24..LAST + 32].copy_from_slice(&7u64.to_le_bytes());
    reseal(&mut bytes, LAST);
    let report = read_bytes(&bytes).unwrap();
    assert_eq!(report.source, TableCopy::Backup);
    assert!(matches!(
        report.problems.as_slice(),
        [
            Problem::Entries {
                copy: TableCopy::Primary,
                error: EntriesError::Crc { .. }
            },
            Problem::Header {
                copy: TableCopy::Backup,
                error: HeaderError::Misplaced {
                    my_lba: 7,
                    expected_my: 8191,
                    ..
                },
                ..
            }
        ]
    ));
}

#[test]
fn a_truncated_disk_loses_its_tables_and_tiny_ones_have_none() {
    let bytes = written(&sample());
    // One sector short: the backup header is gone and the primary places it past the end.
    let report = read_bytes(&bytes[..bytes.len() - 512]).unwrap();
    assert_eq!(report.source, TableCopy::Primary);
    assert_eq!(report.table.partitions, sample_read().partitions);
    assert_eq!(
        report.problems,
        [
            Problem::Header {
                copy: TableCopy::Primary,
                lba: 1,
                error: HeaderError::Misplaced {
                    my_lba: 1,
                    alternate_lba: 8191,
                    expected_my: 1,
                    expected_alternate: 8190
                }
            },
            Problem::Header {
                copy: TableCopy::Backup,
                lba: 8190,
                error: HeaderError::NoSignature
            }
        ]
    );
    // Cut in half: the primary's usable sectors reach past the end, so no copy is intact.
    match read_bytes(&bytes[..bytes.len() / 2]) {
        Err(ReadError::NoValidCopy { problems }) => assert!(matches!(
            problems.as_slice(),
            [
                Problem::Header {
                    error: HeaderError::Misplaced { .. },
                    ..
                },
                Problem::Header {
                    copy: TableCopy::Primary,
                    error: HeaderError::UsableRange { last: 8158, .. },
                    ..
                },
                Problem::Header {
                    copy: TableCopy::Backup,
                    error: HeaderError::NoSignature,
                    ..
                }
            ]
        )),
        other => panic!("{other:?}"),
    }
    for len in [0, 1, 1535] {
        let err = read_bytes(&bytes[..len]).unwrap_err();
        assert!(matches!(err, ReadError::TooSmall { .. }) && err.is_unpartitioned());
    }
    let err = read_bytes(&vec![0; 1 << 20]).unwrap_err();
    assert!(err.is_unpartitioned());
    assert_eq!(
        err.problems(),
        [
            Problem::ProtectiveMbr(MbrProblem::NoSignature),
            Problem::Header {
                copy: TableCopy::Primary,
                lba: 1,
                error: HeaderError::NoSignature
            },
            Problem::Header {
                copy: TableCopy::Backup,
                lba: 2047,
                error: HeaderError::NoSignature
            }
        ]
    );
}

fn sample_read() -> Table {
    read_bytes(&written(&sample())).unwrap().table
}

/// Writes `entries` (1-based slots) into both arrays of a sample disk and re-seals both
/// headers, so only the entries' places are wrong.
fn with_entries(edit: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut bytes = written(&sample());
    for (header, entries) in [(512, 1024), (LAST, BACKUP_ENTRIES)] {
        edit(&mut bytes[entries..entries + 16384]);
        let crc = crc32(&bytes[entries..entries + 16384]);
        bytes[header + 88..header + 92].copy_from_slice(&crc.to_le_bytes());
        reseal(&mut bytes, header);
    }
    bytes
}

#[test]
fn misplaced_and_overlapping_partitions_are_named_and_left_out() {
    let set = |e: &mut [u8], slot: usize, first: u64, last: u64| {
        let at = (slot - 1) * 128;
        e[at + 32..at + 40].copy_from_slice(&first.to_le_bytes());
        e[at + 40..at + 48].copy_from_slice(&last.to_le_bytes());
    };
    let bytes = with_entries(|e| {
        set(e, 2, 6144, u64::MAX); // past the end
        set(e, 3, 3000, 5000); // into the ESP
        e.copy_within(..128, 128 * 9); // entry 10: a copy of the ESP
        set(e, 10, 10, 20); // over the primary table
    });
    let report = read_bytes(&bytes).unwrap();
    let numbers: Vec<u32> = report.table.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1]);
    assert_eq!(
        report.problems,
        [
            Problem::Partition {
                number: 2,
                label: "fruix-root-ünïcode".into(),
                problem: PartitionProblem::OutsideUsable {
                    first: 6144,
                    last: u64::MAX,
                    first_usable: 34,
                    last_usable: 8158
                }
            },
            Problem::Partition {
                number: 3,
                label: "swapfs".into(),
                problem: PartitionProblem::Overlaps(1)
            },
            Problem::Partition {
                number: 10,
                label: "efiboot".into(),
                problem: PartitionProblem::OutsideUsable {
                    first: 10,
                    last: 20,
                    first_usable: 34,
                    last_usable: 8158
                }
            },
        ]
    );
    let reversed = with_entries(|e| set(e, 3, 5000, 4096));
    assert!(read_bytes(&reversed)
        .unwrap()
        .problems
        .contains(&Problem::Partition {
            number: 3,
            label: "swapfs".into(),
            problem: PartitionProblem::Reversed {
                first: 5000,
                last: 4096
            }
        }));
}

#[test]
fn absurd_header_fields_with_valid_crcs_are_named() {
    type Expected = fn(&HeaderError) -> bool;
    let cases: [(usize, u64, Expected); 3] = [
        (40, 0, |e| {
            matches!(e, HeaderError::UsableRange { first: 0, .. })
        }),
        (48, u64::MAX, |e| {
            matches!(e, HeaderError::UsableRange { .. })
        }),
        (80, 0, |e| {
            matches!(e, HeaderError::EntryGeometry { count: 0, .. })
        }),
    ];
    for (at, value, expected) in cases {
        let mut bytes = written(&sample());
        bytes[512 + at..512 + at + 8].copy_from_slice(&value.to_le_bytes());
        reseal(&mut bytes, 512);
        let report = read_bytes(&bytes).unwrap();
        assert_eq!(report.source, TableCopy::Backup, "field at {at}");
        match report.problems.as_slice() {
            [Problem::Header { error, .. }] => assert!(expected(error), "{error}"),
            other => panic!("field at {at}: {other:?}"),
        }
    }
    for (lba, expected) in [
        (
            u64::MAX / 3,
            EntriesError::OutsideDisk { lba: u64::MAX / 3 },
        ),
        (8191, EntriesError::OutsideDisk { lba: 8191 }),
        (8150, EntriesError::Overlap { lba: 8150 }),
        (1, EntriesError::Overlap { lba: 1 }),
        (40, EntriesError::Overlap { lba: 40 }),
    ] {
        let mut bytes = written(&sample());
        bytes[512 + 72..512 + 80].copy_from_slice(&lba.to_le_bytes());
        reseal(&mut bytes, 512);
        let report = read_bytes(&bytes).unwrap();
        assert_eq!(
            report.problems,
            [Problem::Entries {
                copy: TableCopy::Primary,
                error: expected
            }]
        );
    }
}

#[test]
fn every_damaged_byte_of_the_tables_is_caught_never_a_panic() {
    let original = written(&sample());
    let table = sample_read();
    // Header and entry sectors, both copies: a flipped byte is found or does not matter.
    let meaningful = (512..1024 + 3 * 128).chain(BACKUP_ENTRIES..BACKUP_ENTRIES + 3 * 128);
    for at in meaningful.chain(LAST..LAST + 92) {
        let mut bytes = original.clone();
        bytes[at] ^= 0x41;
        match read_bytes(&bytes) {
            Ok(report) => assert!(
                !report.problems.is_empty() || (512 + 92..1024).contains(&at),
                "byte {at}: no problem found"
            ),
            Err(e) => panic!("byte {at}: {e}"),
        }
        // The table read is always the intact one.
        assert_eq!(read_bytes(&bytes).unwrap().table, table, "byte {at}");
    }
    // Garbage of every small length, and patterns over a whole disk.
    for len in 0..2048 {
        let _ = read_bytes(&vec![0xA5; len]);
    }
    for fill in [0x00, 0xFF, 0x7F] {
        let mut bytes = original.clone();
        bytes[512..1024].fill(fill);
        bytes[LAST..].fill(fill);
        assert!(read_bytes(&bytes).is_err());
    }
}

#[test]
fn the_writer_refuses_tables_the_reader_would_not_accept() {
    let refused = |edit: fn(&mut Table)| {
        let mut table = sample();
        edit(&mut table);
        let mut disk = Cursor::new(Vec::new());
        let err = write(&table, &mut disk).unwrap_err();
        assert!(disk.into_inner().is_empty(), "{err}: wrote something");
        err
    };
    assert!(matches!(
        refused(|t| t.partitions[2].last_lba = 6144),
        WriteError::Placement {
            number: 2,
            problem: PartitionProblem::Overlaps(3)
        }
    ));
    assert!(matches!(
        refused(|t| t.partitions[0].first_lba = 33),
        WriteError::Placement {
            number: 1,
            problem: PartitionProblem::OutsideUsable { .. }
        }
    ));
    assert!(matches!(
        refused(|t| t.partitions[1].number = 1),
        WriteError::Number { number: 1, .. }
    ));
    assert!(matches!(
        refused(|t| t.partitions[1].number = 129),
        WriteError::Number { number: 129, .. }
    ));
    assert!(matches!(
        refused(|t| t.partitions[0].partition_type = PartitionType::Other(Guid::ZERO)),
        WriteError::UnusedType(1)
    ));
    assert!(matches!(
        refused(|t| t.partitions[0].label = "x".repeat(37)),
        WriteError::Label { number: 1, .. }
    ));
    assert!(matches!(
        refused(|t| t.partitions[0].label = "a\0b".into()),
        WriteError::Label { number: 1, .. }
    ));
    assert!(matches!(
        refused(|t| t.entry_size = 100),
        WriteError::Geometry(HeaderError::EntryGeometry { size: 100, .. })
    ));
    assert!(matches!(
        refused(|t| t.first_usable_lba = 20),
        WriteError::EntryArray {
            which: "primary",
            error: EntriesError::Overlap { lba: 2 }
        }
    ));
    assert!(matches!(
        refused(|t| *t = Table::new(t.disk_guid, 60)),
        WriteError::Geometry(HeaderError::UsableRange { .. })
    ));
    // 36 UTF-16 units is the most a label holds, and it reads back whole.
    let mut table = sample();
    table.partitions[0].label = "ü".repeat(36);
    assert_eq!(
        read_bytes(&written(&table)).unwrap().table.partitions[0].label,
        "ü".repeat(36)
    );
}

#[test]
fn an_image_layout_becomes_its_table() {
    use crate::image::layout::{plan, PartitionKind};
    use crate::spec::{OperatingSystem, SwapPartition};
    let mut os = OperatingSystem {
        host_name: "h".into(),
        ..Default::default()
    };
    os.image.swap = Some(SwapPartition::default());
    let spec = plan(&os.validated().unwrap(), "seed", "esp", 1 << 20).unwrap();
    let table = image_table(&spec).unwrap();
    assert_eq!(table.disk_guid.to_string(), spec.disk_guid);
    assert_eq!(table.disk_sectors * 512, spec.disk_size);
    for (p, s) in table.partitions.iter().zip(&spec.partitions) {
        let kind = match p.partition_type {
            PartitionType::EfiSystem => PartitionKind::Esp,
            PartitionType::FreebsdUfs => PartitionKind::FreebsdUfs,
            PartitionType::FreebsdSwap => PartitionKind::FreebsdSwap,
            other => panic!("{other}"),
        };
        assert_eq!(
            (kind, p.partition_type.to_string()),
            (s.kind, s.kind.name().to_owned())
        );
        assert_eq!(
            (p.number, p.guid.to_string(), p.offset(), p.size()),
            (s.number, s.guid.clone(), s.offset(), s.size())
        );
        assert_eq!(p.label, s.label);
    }
    assert_eq!(table.partitions.len(), 3);
    let mut broken = spec;
    broken.partitions[1].guid = "not-a-guid".into();
    assert_eq!(image_table(&broken), Err(GuidError("not-a-guid".into())));
}

/// Deterministic pseudo-random numbers (xorshift64*), for the mutation test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn resealed_random_damage_reads_as_a_table_or_an_error_and_round_trips() {
    // What the fuzz target checks, with damage that gets past the CRCs: random header
    // fields and entry bytes, both checksums recomputed. A 100 KiB disk keeps it quick.
    const ROUNDS: usize = 2000;
    let mut table = sample();
    table = Table {
        partitions: table.partitions[..2].to_vec(),
        ..Table::new(table.disk_guid, 200)
    };
    (table.partitions[0].first_lba, table.partitions[0].last_lba) = (40, 99);
    (table.partitions[1].first_lba, table.partitions[1].last_lba) = (100, 165);
    let original = written(&table);
    let (last, backup_entries) = (199 * 512, 167 * 512);
    let mut rng = Rng(0x5EED_F00D);
    let header_fields = [24, 32, 40, 48, 56, 72, 80, 84, 12];
    let values = [
        0,
        1,
        2,
        33,
        34,
        127,
        128,
        256,
        166,
        167,
        198,
        199,
        200,
        u64::MAX,
    ];
    let mut round_trips = 0;
    for round in 0..ROUNDS {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(3) {
            let (header, entries) = if rng.below(2) == 0 {
                (512, 1024)
            } else {
                (last, backup_entries)
            };
            if rng.below(2) == 0 {
                let at = header + header_fields[rng.below(header_fields.len())];
                let value = values[rng.below(values.len())].to_le_bytes();
                let width = if at >= header + 80 || at == header + 12 {
                    4
                } else {
                    8
                };
                bytes[at..at + width].copy_from_slice(&value[..width]);
            } else {
                let at = entries + rng.below(3 * 128);
                bytes[at] = rng.next() as u8;
                let crc = crc32(&bytes[entries..entries + 16384]);
                bytes[header + 88..header + 92].copy_from_slice(&crc.to_le_bytes());
            }
            reseal(&mut bytes, header);
        }
        let Ok(report) = read_bytes(&bytes) else {
            continue;
        };
        let mut copy = Cursor::new(vec![0u8; bytes.len()]);
        if write(&report.table, &mut copy).is_ok() {
            let again = read(&mut copy).unwrap();
            assert_eq!(again.problems, [], "round {round}");
            assert_eq!(again.table, report.table, "round {round}");
            round_trips += 1;
        }
    }
    assert!(round_trips > ROUNDS / 10, "{round_trips} round trips");
}
