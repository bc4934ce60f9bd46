//! The `agent` phase's scrape targets: many node-exporter-sized endpoints served from
//! the harness process, one loopback port per target, so that both agents see
//! ordinary distinct `host:port` targets with the default `/metrics` path.
//!
//! Every target exposes the same catalog of node-exporter 1.x families (Go runtime,
//! process, CPU per cpu and mode, memory, filesystems per mount, disks, network
//! devices, netstat, schedstat, scrape collectors, …) with `# HELP` and `# TYPE` lines
//! and label sets shaped like the real ones. `node_interrupts_total` (per cpu and
//! interrupt line, as on real hosts) fills the catalog up to the requested series
//! count; a count below the base catalog truncates it.
//!
//! Values change at every request: counters grow at a per-series rate times the time
//! since the previous scrape of that target, rounded the way their sources round;
//! gauges take mean-reverting steps, most of them only some of the time; info series and
//! sizes are constant. Numbers are printed the way Go's `strconv.FormatFloat(v, 'g', -1,
//! 64)` prints them, as node-exporter does (`1.37335574e+06`). A request with
//! `Accept-Encoding: gzip` gets a gzip body (fastest level; only the harness pays for it).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use orrery_model::gofloat::write_expfmt;

use crate::minihttp::{self, Request, Response};
use orrery_testkit::rng::Rng;

/// How a series' value moves between scrapes.
#[derive(Debug, Clone, Copy)]
enum Motion {
    /// Grows by `rate` per second (with noise), rounded to a multiple of `round`.
    Counter { rate: f64, round: f64 },
    /// Mean-reverting walk around `mean` with steps of `sd`, taken with probability `p`.
    Gauge { mean: f64, sd: f64, p: f64 },
    /// Never changes.
    Const,
}

#[derive(Debug, Clone)]
struct Series {
    /// `name{labels} ` ready to print.
    prefix: String,
    start: f64,
    motion: Motion,
}

#[derive(Debug, Clone)]
struct Family {
    /// `# HELP …\n# TYPE …\n`.
    head: String,
    series: Vec<Series>,
}

/// The exposition every target serves, without values.
#[derive(Debug, Clone)]
struct Catalog {
    families: Vec<Family>,
}

const CPUS: usize = 8;

impl Catalog {
    fn build(series: usize, seed: u64) -> Catalog {
        let mut b = Builder {
            families: Vec::new(),
            rng: Rng::derive(seed, 0xcafe),
        };
        b.go_and_process();
        b.node();
        let mut families = b.families;
        let base: usize = families.iter().map(|f| f.series.len()).sum();
        if series >= base {
            families.push(interrupts(series - base));
        } else {
            let mut left = series;
            families.retain_mut(|f| {
                f.series.truncate(left);
                left -= f.series.len();
                !f.series.is_empty()
            });
        }
        Catalog { families }
    }

    fn len(&self) -> usize {
        self.families.iter().map(|f| f.series.len()).sum()
    }
}

struct Builder {
    families: Vec<Family>,
    rng: Rng,
}

impl Builder {
    /// A family with one series per label set in `sets` (each `a="b",c="d"` or empty).
    fn family(
        &mut self,
        name: &str,
        typ: &str,
        help: &str,
        sets: &[String],
        m: impl Fn(&mut Rng) -> (f64, Motion),
    ) {
        let mut fam = Family {
            head: format!("# HELP {name} {help}\n# TYPE {name} {typ}\n"),
            series: Vec::new(),
        };
        for set in sets {
            let (start, motion) = m(&mut self.rng);
            let prefix = if set.is_empty() {
                format!("{name} ")
            } else {
                format!("{name}{{{set}}} ")
            };
            fam.series.push(Series {
                prefix,
                start,
                motion,
            });
        }
        self.families.push(fam);
    }

    fn one(&mut self, name: &str, typ: &str, help: &str, m: impl Fn(&mut Rng) -> (f64, Motion)) {
        self.family(name, typ, help, &[String::new()], m);
    }

    fn go_and_process(&mut self) {
        // A summary: quantile series, then _sum and _count in the same family.
        let mut gc = Family {
            head: "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n# TYPE go_gc_duration_seconds summary\n".into(),
            series: Vec::new(),
        };
        for (i, q) in ["0", "0.25", "0.5", "0.75", "1"].iter().enumerate() {
            let mean = 2e-5 * (i as f64 + 1.0);
            gc.series.push(Series {
                prefix: format!("go_gc_duration_seconds{{quantile=\"{q}\"}} "),
                start: mean,
                motion: Motion::Gauge {
                    mean,
                    sd: mean * 0.1,
                    p: 0.3,
                },
            });
        }
        gc.series.push(Series {
            prefix: "go_gc_duration_seconds_sum ".into(),
            start: 12.5,
            motion: Motion::Counter {
                rate: 0.0005,
                round: 0.0,
            },
        });
        gc.series.push(Series {
            prefix: "go_gc_duration_seconds_count ".into(),
            start: 81234.0,
            motion: Motion::Counter {
                rate: 0.3,
                round: 1.0,
            },
        });
        self.families.push(gc);
        self.one(
            "go_goroutines",
            "gauge",
            "Number of goroutines that currently exist.",
            |_| gauge(9.0, 1.0, 0.3),
        );
        self.family(
            "go_info",
            "gauge",
            "Information about the Go environment.",
            &[r#"version="go1.21.4""#.into()],
            |_| (1.0, Motion::Const),
        );
        let memstats: &[(&str, &str, &str, f64)] = &[
            (
                "go_memstats_alloc_bytes",
                "gauge",
                "Number of bytes allocated and still in use.",
                3.1e6,
            ),
            (
                "go_memstats_alloc_bytes_total",
                "counter",
                "Total number of bytes allocated, even if freed.",
                4.2e11,
            ),
            (
                "go_memstats_buck_hash_sys_bytes",
                "gauge",
                "Number of bytes used by the profiling bucket hash table.",
                1.6e6,
            ),
            (
                "go_memstats_frees_total",
                "counter",
                "Total number of frees.",
                5.1e9,
            ),
            (
                "go_memstats_gc_sys_bytes",
                "gauge",
                "Number of bytes used for garbage collection system metadata.",
                8.9e6,
            ),
            (
                "go_memstats_heap_alloc_bytes",
                "gauge",
                "Number of heap bytes allocated and still in use.",
                3.1e6,
            ),
            (
                "go_memstats_heap_idle_bytes",
                "gauge",
                "Number of heap bytes waiting to be used.",
                5.6e6,
            ),
            (
                "go_memstats_heap_inuse_bytes",
                "gauge",
                "Number of heap bytes that are in use.",
                4.9e6,
            ),
            (
                "go_memstats_heap_objects",
                "gauge",
                "Number of allocated objects.",
                2.3e4,
            ),
            (
                "go_memstats_heap_released_bytes",
                "gauge",
                "Number of heap bytes released to OS.",
                3.9e6,
            ),
            (
                "go_memstats_heap_sys_bytes",
                "gauge",
                "Number of heap bytes obtained from system.",
                1.1e7,
            ),
            (
                "go_memstats_last_gc_time_seconds",
                "gauge",
                "Number of seconds since 1970 of last garbage collection.",
                1.7e9,
            ),
            (
                "go_memstats_lookups_total",
                "counter",
                "Total number of pointer lookups.",
                0.0,
            ),
            (
                "go_memstats_mallocs_total",
                "counter",
                "Total number of mallocs.",
                5.1e9,
            ),
            (
                "go_memstats_mcache_inuse_bytes",
                "gauge",
                "Number of bytes in use by mcache structures.",
                4800.0,
            ),
            (
                "go_memstats_mcache_sys_bytes",
                "gauge",
                "Number of bytes used for mcache structures obtained from system.",
                15600.0,
            ),
            (
                "go_memstats_mspan_inuse_bytes",
                "gauge",
                "Number of bytes in use by mspan structures.",
                9.8e4,
            ),
            (
                "go_memstats_mspan_sys_bytes",
                "gauge",
                "Number of bytes used for mspan structures obtained from system.",
                1.4e5,
            ),
            (
                "go_memstats_next_gc_bytes",
                "gauge",
                "Number of heap bytes when next garbage collection will take place.",
                6.4e6,
            ),
            (
                "go_memstats_other_sys_bytes",
                "gauge",
                "Number of bytes used for other system allocations.",
                1.2e6,
            ),
            (
                "go_memstats_stack_inuse_bytes",
                "gauge",
                "Number of bytes in use by the stack allocator.",
                7.5e5,
            ),
            (
                "go_memstats_stack_sys_bytes",
                "gauge",
                "Number of bytes obtained from system for stack allocator.",
                7.5e5,
            ),
            (
                "go_memstats_sys_bytes",
                "gauge",
                "Number of bytes obtained from system.",
                2.4e7,
            ),
        ];
        for &(name, typ, help, v) in memstats {
            let v = v.round();
            if typ == "counter" {
                let rate = (v / 1e6).max(0.0);
                self.one(name, typ, help, move |_| {
                    (v, Motion::Counter { rate, round: 1.0 })
                });
            } else {
                self.one(name, typ, help, move |_| gauge_int(v, v * 0.05, 0.7));
            }
        }
        self.one(
            "go_threads",
            "gauge",
            "Number of OS threads created.",
            |_| (9.0, Motion::Const),
        );
        self.one(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            |_| {
                (
                    2134.56,
                    Motion::Counter {
                        rate: 0.02,
                        round: 0.01,
                    },
                )
            },
        );
        self.one(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            |_| (1_048_576.0, Motion::Const),
        );
        self.one(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            |_| gauge_int(10.0, 1.0, 0.2),
        );
        self.one(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            |_| gauge_int(2.3e7, 4e5, 0.8),
        );
        self.one(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            |_| (1.69914e9 + 0.57, Motion::Const),
        );
        self.one(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            |_| gauge_int(7.3e8, 1e6, 0.2),
        );
        self.one(
            "process_virtual_memory_max_bytes",
            "gauge",
            "Maximum amount of virtual memory available in bytes.",
            |_| (1.8446744073709552e19, Motion::Const),
        );
        self.one(
            "promhttp_metric_handler_errors_total",
            "counter",
            "Total number of internal errors encountered by the promhttp metric handler.",
            |_| (0.0, Motion::Const),
        );
        self.one(
            "promhttp_metric_handler_requests_in_flight",
            "gauge",
            "Current number of scrapes being served.",
            |_| (1.0, Motion::Const),
        );
        let codes: Vec<String> = ["200", "500", "503"]
            .iter()
            .map(|c| format!("code=\"{c}\""))
            .collect();
        self.family(
            "promhttp_metric_handler_requests_total",
            "counter",
            "Total number of scrapes by HTTP status code.",
            &codes,
            |_| {
                (
                    0.0,
                    Motion::Counter {
                        rate: 0.0,
                        round: 1.0,
                    },
                )
            },
        );
    }

    fn node(&mut self) {
        let cpus: Vec<String> = (0..CPUS).map(|c| format!("cpu=\"{c}\"")).collect();
        self.one(
            "node_boot_time_seconds",
            "gauge",
            "Node boot time, in unixtime.",
            |_| (1.699140261e9, Motion::Const),
        );
        self.one(
            "node_context_switches_total",
            "counter",
            "Total number of context switches.",
            |_| {
                (
                    4.8e9,
                    Motion::Counter {
                        rate: 9000.0,
                        round: 1.0,
                    },
                )
            },
        );
        let modes = [
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
        ];
        let cpu_mode: Vec<String> = (0..CPUS)
            .flat_map(|c| {
                modes
                    .iter()
                    .map(move |m| format!("cpu=\"{c}\",mode=\"{m}\""))
            })
            .collect();
        self.family(
            "node_cpu_seconds_total",
            "counter",
            "Seconds the CPUs spent in each mode.",
            &cpu_mode,
            |r| {
                (
                    r.range(1e3, 1.4e6),
                    Motion::Counter {
                        rate: r.range(0.0, 0.8),
                        round: 0.01,
                    },
                )
            },
        );
        let guest: Vec<String> = (0..CPUS)
            .flat_map(|c| ["nice", "user"].map(|m| format!("cpu=\"{c}\",mode=\"{m}\"")))
            .collect();
        self.family(
            "node_cpu_guest_seconds_total",
            "counter",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            &guest,
            |_| (0.0, Motion::Const),
        );
        let disks = ["nvme0n1", "nvme1n1", "sda", "dm-0"];
        let devs: Vec<String> = disks.iter().map(|d| format!("device=\"{d}\"")).collect();
        let disk_counters: &[(&str, &str, f64, f64)] = &[
            (
                "node_disk_discard_time_seconds_total",
                "This is the total number of seconds spent by all discards.",
                0.0,
                0.001,
            ),
            (
                "node_disk_discarded_sectors_total",
                "The total number of sectors discarded successfully.",
                0.0,
                1.0,
            ),
            (
                "node_disk_discards_completed_total",
                "The total number of discards completed successfully.",
                0.0,
                1.0,
            ),
            (
                "node_disk_discards_merged_total",
                "The total number of discards merged.",
                0.0,
                1.0,
            ),
            (
                "node_disk_flush_requests_time_seconds_total",
                "This is the total number of seconds spent by all flush requests.",
                0.1,
                0.001,
            ),
            (
                "node_disk_flush_requests_total",
                "The total number of flush requests completed successfully",
                2.0,
                1.0,
            ),
            (
                "node_disk_io_time_seconds_total",
                "Total seconds spent doing I/Os.",
                0.05,
                0.001,
            ),
            (
                "node_disk_io_time_weighted_seconds_total",
                "The weighted # of seconds spent doing I/Os.",
                0.2,
                0.001,
            ),
            (
                "node_disk_read_bytes_total",
                "The total number of bytes read successfully.",
                4e5,
                1.0,
            ),
            (
                "node_disk_read_time_seconds_total",
                "The total number of seconds spent by all reads.",
                0.02,
                0.001,
            ),
            (
                "node_disk_reads_completed_total",
                "The total number of reads completed successfully.",
                30.0,
                1.0,
            ),
            (
                "node_disk_reads_merged_total",
                "The total number of reads merged.",
                2.0,
                1.0,
            ),
            (
                "node_disk_write_time_seconds_total",
                "This is the total number of seconds spent by all writes.",
                0.1,
                0.001,
            ),
            (
                "node_disk_writes_completed_total",
                "The total number of writes completed successfully.",
                80.0,
                1.0,
            ),
            (
                "node_disk_writes_merged_total",
                "The number of writes merged.",
                20.0,
                1.0,
            ),
            (
                "node_disk_written_bytes_total",
                "The total number of bytes written successfully.",
                1.2e6,
                1.0,
            ),
        ];
        for &(name, help, rate, round) in disk_counters {
            self.family(name, "counter", help, &devs, move |r| {
                let rate = rate * r.range(0.2, 2.0);
                (rate * r.range(1e5, 1e6), Motion::Counter { rate, round })
            });
        }
        self.family(
            "node_disk_io_now",
            "gauge",
            "The number of I/Os currently in progress.",
            &devs,
            |_| gauge_int(0.0, 1.0, 0.2),
        );
        self.one(
            "node_entropy_available_bits",
            "gauge",
            "Bits of available entropy.",
            |_| (256.0, Motion::Const),
        );
        self.one(
            "node_filefd_allocated",
            "gauge",
            "File descriptor statistics: allocated.",
            |_| gauge_int(12_000.0, 100.0, 0.5),
        );
        self.one(
            "node_filefd_maximum",
            "gauge",
            "File descriptor statistics: maximum.",
            |_| (9.223372036854776e18, Motion::Const),
        );
        let mounts = [
            ("/dev/nvme0n1p1", "ext4", "/".to_string()),
            ("/dev/nvme0n1p15", "vfat", "/boot/efi".to_string()),
            ("/dev/nvme1n1", "xfs", "/var/lib/containerd".to_string()),
            ("tmpfs", "tmpfs", "/run".to_string()),
            ("tmpfs", "tmpfs", "/run/lock".to_string()),
            ("tmpfs", "tmpfs", "/run/user/1000".to_string()),
            ("tmpfs", "tmpfs", "/var/lib/kubelet/pods/1f0c2d7e-8b9a-4c1d-9e2f-3a4b5c6d7e8f/volumes/kubernetes.io~projected/kube-api-access-7xk2p".to_string()),
            ("tmpfs", "tmpfs", "/var/lib/kubelet/pods/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/volumes/kubernetes.io~secret/webhook-cert".to_string()),
        ];
        let fs_sets: Vec<String> = mounts
            .iter()
            .map(|(d, t, m)| format!("device=\"{d}\",fstype=\"{t}\",mountpoint=\"{m}\""))
            .collect();
        self.family(
            "node_filesystem_avail_bytes",
            "gauge",
            "Filesystem space available to non-root users in bytes.",
            &fs_sets,
            |r| gauge_int(r.range(1e9, 4e11).round(), 4096.0 * 50.0, 0.6),
        );
        self.family(
            "node_filesystem_device_error",
            "gauge",
            "Whether an error occurred while getting statistics for the given device.",
            &fs_sets,
            |_| (0.0, Motion::Const),
        );
        self.family(
            "node_filesystem_files",
            "gauge",
            "Filesystem total file nodes.",
            &fs_sets,
            |r| (r.range(1e5, 2.6e7).round(), Motion::Const),
        );
        self.family(
            "node_filesystem_files_free",
            "gauge",
            "Filesystem total free file nodes.",
            &fs_sets,
            |r| gauge_int(r.range(1e5, 2.5e7).round(), 20.0, 0.5),
        );
        self.family(
            "node_filesystem_free_bytes",
            "gauge",
            "Filesystem free space in bytes.",
            &fs_sets,
            |r| gauge_int(r.range(1e9, 4e11).round(), 4096.0 * 50.0, 0.6),
        );
        self.family(
            "node_filesystem_readonly",
            "gauge",
            "Filesystem read-only status.",
            &fs_sets,
            |_| (0.0, Motion::Const),
        );
        self.family(
            "node_filesystem_size_bytes",
            "gauge",
            "Filesystem size in bytes.",
            &fs_sets,
            |r| {
                (
                    (r.range(1e9, 5e11) / 4096.0).round() * 4096.0,
                    Motion::Const,
                )
            },
        );
        self.one(
            "node_forks_total",
            "counter",
            "Total number of forks.",
            |_| {
                (
                    3.2e7,
                    Motion::Counter {
                        rate: 40.0,
                        round: 1.0,
                    },
                )
            },
        );
        self.one(
            "node_intr_total",
            "counter",
            "Total number of interrupts serviced.",
            |_| {
                (
                    2.9e9,
                    Motion::Counter {
                        rate: 6000.0,
                        round: 1.0,
                    },
                )
            },
        );
        for (name, help) in [
            ("node_load1", "1m load average."),
            ("node_load15", "15m load average."),
            ("node_load5", "5m load average."),
        ] {
            self.one(name, "gauge", help, |r| {
                let m = r.range(0.2, 4.0);
                (
                    m,
                    Motion::Gauge {
                        mean: m,
                        sd: 0.1,
                        p: 1.0,
                    },
                )
            });
        }
        let memory = [
            "Active_anon",
            "Active",
            "Active_file",
            "AnonHugePages",
            "AnonPages",
            "Bounce",
            "Buffers",
            "Cached",
            "CommitLimit",
            "Committed_AS",
            "DirectMap1G",
            "DirectMap2M",
            "DirectMap4k",
            "Dirty",
            "FileHugePages",
            "FilePmdMapped",
            "HardwareCorrupted",
            "HugePages_Free",
            "HugePages_Rsvd",
            "HugePages_Surp",
            "HugePages_Total",
            "Hugepagesize",
            "Hugetlb",
            "Inactive_anon",
            "Inactive",
            "Inactive_file",
            "KReclaimable",
            "KernelStack",
            "Mapped",
            "MemAvailable",
            "MemFree",
            "MemTotal",
            "Mlocked",
            "NFS_Unstable",
            "PageTables",
            "Percpu",
            "SReclaimable",
            "SUnreclaim",
            "ShmemHugePages",
            "ShmemPmdMapped",
            "Shmem",
            "Slab",
            "SwapCached",
            "SwapFree",
            "SwapTotal",
            "Unevictable",
            "VmallocChunk",
            "VmallocTotal",
            "VmallocUsed",
            "WritebackTmp",
            "Writeback",
        ];
        for m in memory {
            let name = format!("node_memory_{m}_bytes");
            let help = format!("Memory information field {m}_bytes.");
            let constant = m.contains("Total")
                || m.starts_with("HugePages")
                || m.starts_with("DirectMap")
                || m == "Hugepagesize"
                || m == "CommitLimit";
            self.one(&name, "gauge", &help, move |r| {
                let v = (r.range(1e6, 3e10) / 1024.0).round() * 1024.0;
                if constant {
                    (v, Motion::Const)
                } else {
                    // /proc/meminfo is in kB.
                    let (s, m) = gauge_int(v, v * 0.002, 0.8);
                    (s, m)
                }
            });
        }
        let netstat = [
            "Icmp6_InErrors",
            "Icmp6_InMsgs",
            "Icmp6_OutMsgs",
            "Icmp_InErrors",
            "Icmp_InMsgs",
            "Icmp_OutMsgs",
            "Ip6_InOctets",
            "Ip6_OutOctets",
            "IpExt_InOctets",
            "IpExt_OutOctets",
            "Ip_Forwarding",
            "TcpExt_ListenDrops",
            "TcpExt_ListenOverflows",
            "TcpExt_SyncookiesFailed",
            "TcpExt_SyncookiesRecv",
            "TcpExt_SyncookiesSent",
            "TcpExt_TCPSynRetrans",
            "TcpExt_TCPTimeouts",
            "Tcp_ActiveOpens",
            "Tcp_CurrEstab",
            "Tcp_InErrs",
            "Tcp_InSegs",
            "Tcp_OutRsts",
            "Tcp_OutSegs",
            "Tcp_PassiveOpens",
            "Tcp_RetransSegs",
            "Udp6_InDatagrams",
            "Udp6_InErrors",
            "Udp6_NoPorts",
            "Udp6_OutDatagrams",
            "Udp6_RcvbufErrors",
            "Udp6_SndbufErrors",
            "UdpLite6_InErrors",
            "UdpLite_InErrors",
            "Udp_InDatagrams",
            "Udp_InErrors",
            "Udp_NoPorts",
            "Udp_OutDatagrams",
            "Udp_RcvbufErrors",
            "Udp_SndbufErrors",
        ];
        for n in netstat {
            let name = format!("node_netstat_{n}");
            let help = format!("Statistic {}.", n.replace('_', ""));
            self.one(&name, "untyped", &help, |r| {
                let rate = if r.chance(0.5) {
                    r.range(0.0, 2000.0)
                } else {
                    0.0
                };
                (
                    r.range(0.0, 1e9).round(),
                    Motion::Counter { rate, round: 1.0 },
                )
            });
        }
        let netdevs = [
            "eth0",
            "lo",
            "cni0",
            "flannel.1",
            "veth1a2b3c4d",
            "veth5e6f7a8b",
        ];
        let nd: Vec<String> = netdevs.iter().map(|d| format!("device=\"{d}\"")).collect();
        for dir in ["receive", "transmit"] {
            for (what, rate) in [
                ("bytes", 2e5),
                ("compressed", 0.0),
                ("drop", 0.01),
                ("errs", 0.0),
                ("fifo", 0.0),
                ("frame", 0.0),
                ("multicast", 0.1),
                ("packets", 300.0),
            ] {
                let (what, rate) = if dir == "transmit" && what == "frame" {
                    ("colls", 0.0)
                } else {
                    (what, rate)
                };
                let name = format!("node_network_{dir}_{what}_total");
                let help = format!("Network device statistic {dir}_{what}.");
                self.family(&name, "counter", &help, &nd, move |r| {
                    let rate = rate * r.range(0.1, 2.0);
                    (
                        rate * r.range(1e4, 1e6),
                        Motion::Counter { rate, round: 1.0 },
                    )
                });
            }
        }
        self.family(
            "node_network_mtu_bytes",
            "gauge",
            "Network device property: mtu_bytes",
            &nd,
            |_| (1500.0, Motion::Const),
        );
        self.family(
            "node_network_up",
            "gauge",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            &nd,
            |_| (1.0, Motion::Const),
        );
        let info: Vec<String> = netdevs
            .iter()
            .enumerate()
            .map(|(i, d)| format!("address=\"0a:58:0a:f4:00:{i:02x}\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"{d}\",duplex=\"full\",ifalias=\"\",operstate=\"up\""))
            .collect();
        self.family(
            "node_network_info",
            "gauge",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            &info,
            |_| (1.0, Motion::Const),
        );
        self.one(
            "node_procs_blocked",
            "gauge",
            "Number of processes blocked waiting for I/O to complete.",
            |_| gauge_int(0.0, 1.0, 0.1),
        );
        self.one(
            "node_procs_running",
            "gauge",
            "Number of processes in runnable state.",
            |_| gauge_int(3.0, 1.0, 0.8),
        );
        for (what, help, rate) in [
            (
                "running_seconds_total",
                "Number of seconds CPU spent running a process.",
                0.3,
            ),
            (
                "timeslices_total",
                "Number of timeslices executed by CPU.",
                300.0,
            ),
            (
                "waiting_seconds_total",
                "Number of seconds spent by processing waiting for this CPU.",
                0.02,
            ),
        ] {
            let name = format!("node_schedstat_{what}");
            self.family(&name, "counter", help, &cpus, move |r| {
                let rate = rate * r.range(0.5, 1.5);
                (
                    rate * 1e6,
                    Motion::Counter {
                        rate,
                        round: if rate > 1.0 { 1.0 } else { 0.0 },
                    },
                )
            });
        }
        let collectors = [
            "arp",
            "bcache",
            "bonding",
            "btrfs",
            "conntrack",
            "cpu",
            "cpufreq",
            "diskstats",
            "dmi",
            "edac",
            "entropy",
            "fibrechannel",
            "filefd",
            "filesystem",
            "hwmon",
            "infiniband",
            "ipvs",
            "loadavg",
            "mdadm",
            "meminfo",
            "netclass",
            "netdev",
            "netstat",
            "nfs",
            "nfsd",
            "nvme",
            "os",
            "powersupplyclass",
            "pressure",
            "rapl",
            "schedstat",
            "selinux",
            "sockstat",
            "softnet",
            "stat",
            "tapestats",
            "textfile",
            "thermal_zone",
            "time",
            "timex",
            "udp_queues",
            "uname",
            "vmstat",
            "xfs",
            "zfs",
        ];
        let coll: Vec<String> = collectors
            .iter()
            .map(|c| format!("collector=\"{c}\""))
            .collect();
        self.family(
            "node_scrape_collector_duration_seconds",
            "gauge",
            "node_exporter: Duration of a collector scrape.",
            &coll,
            |r| {
                let m = r.range(1e-5, 5e-3);
                (
                    m,
                    Motion::Gauge {
                        mean: m,
                        sd: m * 0.3,
                        p: 1.0,
                    },
                )
            },
        );
        self.family(
            "node_scrape_collector_success",
            "gauge",
            "node_exporter: Whether a collector succeeded.",
            &coll,
            |r| (if r.chance(0.9) { 1.0 } else { 0.0 }, Motion::Const),
        );
        for (name, help) in [
            (
                "node_sockstat_FRAG6_inuse",
                "Number of FRAG6 sockets in state inuse.",
            ),
            (
                "node_sockstat_FRAG_inuse",
                "Number of FRAG sockets in state inuse.",
            ),
            (
                "node_sockstat_RAW6_inuse",
                "Number of RAW6 sockets in state inuse.",
            ),
            (
                "node_sockstat_RAW_inuse",
                "Number of RAW sockets in state inuse.",
            ),
            (
                "node_sockstat_TCP6_inuse",
                "Number of TCP6 sockets in state inuse.",
            ),
            (
                "node_sockstat_TCP_alloc",
                "Number of TCP sockets in state alloc.",
            ),
            (
                "node_sockstat_TCP_inuse",
                "Number of TCP sockets in state inuse.",
            ),
            (
                "node_sockstat_TCP_mem",
                "Number of TCP sockets in state mem.",
            ),
            (
                "node_sockstat_TCP_mem_bytes",
                "Number of TCP sockets in state mem_bytes.",
            ),
            (
                "node_sockstat_TCP_orphan",
                "Number of TCP sockets in state orphan.",
            ),
            ("node_sockstat_TCP_tw", "Number of TCP sockets in state tw."),
            (
                "node_sockstat_UDP6_inuse",
                "Number of UDP6 sockets in state inuse.",
            ),
            (
                "node_sockstat_UDP_inuse",
                "Number of UDP sockets in state inuse.",
            ),
            (
                "node_sockstat_UDP_mem",
                "Number of UDP sockets in state mem.",
            ),
            (
                "node_sockstat_UDP_mem_bytes",
                "Number of UDP sockets in state mem_bytes.",
            ),
            (
                "node_sockstat_sockets_used",
                "Number of IPv4 sockets in use.",
            ),
        ] {
            self.one(name, "gauge", help, |r| {
                gauge_int(r.range(0.0, 2000.0).round(), 3.0, 0.5)
            });
        }
        for (what, help, rate) in [
            ("dropped_total", "Number of dropped packets", 0.0),
            ("processed_total", "Number of processed packets", 400.0),
            (
                "times_squeezed_total",
                "Number of times processing packets ran out of quota",
                0.05,
            ),
        ] {
            let name = format!("node_softnet_{what}");
            self.family(&name, "counter", help, &cpus, move |r| {
                (
                    r.range(0.0, 1e8).round(),
                    Motion::Counter {
                        rate: rate * r.range(0.5, 1.5),
                        round: 1.0,
                    },
                )
            });
        }
        self.one(
            "node_textfile_scrape_error",
            "gauge",
            "1 if there was an error opening or reading a file, 0 otherwise",
            |_| (0.0, Motion::Const),
        );
        self.one(
            "node_time_seconds",
            "gauge",
            "System time in seconds since epoch (1970).",
            |_| {
                (
                    1.7e9,
                    Motion::Counter {
                        rate: 1.0,
                        round: 0.0,
                    },
                )
            },
        );
        for (name, help) in [
            (
                "node_timex_estimated_error_seconds",
                "Estimated error in seconds.",
            ),
            (
                "node_timex_frequency_adjustment_ratio",
                "Local clock frequency adjustment.",
            ),
            (
                "node_timex_loop_time_constant",
                "Phase-locked loop time constant.",
            ),
            ("node_timex_maxerror_seconds", "Maximum error in seconds."),
            (
                "node_timex_offset_seconds",
                "Time offset in between local system and reference clock.",
            ),
            ("node_timex_status", "Value of the status array bits."),
            (
                "node_timex_sync_status",
                "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            ),
            (
                "node_timex_tai_offset_seconds",
                "International Atomic Time (TAI) offset.",
            ),
            ("node_timex_tick_seconds", "Seconds between clock ticks."),
        ] {
            self.one(name, "gauge", help, |r| {
                let m = r.range(0.0, 0.01);
                (
                    m,
                    Motion::Gauge {
                        mean: m,
                        sd: m * 0.01,
                        p: 0.5,
                    },
                )
            });
        }
        self.family(
            "node_uname_info",
            "gauge",
            "Labeled system information as provided by the uname system call.",
            &[r##"domainname="(none)",machine="x86_64",nodename="ip-10-0-12-34.eu-west-1.compute.internal",release="6.1.0-13-cloud-amd64",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)""##.into()],
            |_| (1.0, Motion::Const),
        );
        for n in [
            "oom_kill",
            "pgfault",
            "pgmajfault",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
        ] {
            let name = format!("node_vmstat_{n}");
            let help = format!("/proc/vmstat information field {n}.");
            self.one(&name, "untyped", &help, |r| {
                (
                    r.range(0.0, 1e9).round(),
                    Motion::Counter {
                        rate: r.range(0.0, 3000.0),
                        round: 1.0,
                    },
                )
            });
        }
        let sensors: Vec<String> = (0..CPUS / 2 + 1)
            .map(|i| format!("chip=\"platform_coretemp_0\",sensor=\"temp{}\"", i + 1))
            .collect();
        self.family(
            "node_hwmon_temp_celsius",
            "gauge",
            "Hardware monitor for temperature (input)",
            &sensors,
            |r| {
                let m = r.range(35.0, 60.0).round();
                (
                    m,
                    Motion::Gauge {
                        mean: m,
                        sd: 1.0,
                        p: 0.3,
                    },
                )
            },
        );
    }
}

/// `node_interrupts_total` with `n` series: per cpu, per interrupt line.
fn interrupts(n: usize) -> Family {
    let kinds = [
        ("LOC", "Local timer interrupts", ""),
        ("RES", "Rescheduling interrupts", ""),
        ("CAL", "Function call interrupts", ""),
        ("TLB", "TLB shootdowns", ""),
        ("NMI", "Non-maskable interrupts", ""),
        ("PMI", "Performance monitoring interrupts", ""),
        ("IWI", "IRQ work interrupts", ""),
        ("THR", "Threshold APIC interrupts", ""),
    ];
    let mut series = Vec::with_capacity(n);
    let mut rng = Rng::new(0x1e7);
    for i in 0..n {
        let line = i / CPUS;
        let cpu = i % CPUS;
        let (typ, info, devices) = match kinds.get(line) {
            Some(&(t, info, d)) => (t.to_string(), info.to_string(), d.to_string()),
            None => {
                let irq = line - kinds.len() + 24;
                (
                    irq.to_string(),
                    "PCI-MSI-edge".to_string(),
                    format!("nvme0q{}", line - kinds.len()),
                )
            }
        };
        let rate = if rng.chance(0.6) {
            rng.range(0.0, 50.0)
        } else {
            0.0
        };
        series.push(Series {
            prefix: format!("node_interrupts_total{{cpu=\"{cpu}\",devices=\"{devices}\",info=\"{info}\",type=\"{typ}\"}} "),
            start: (rate * rng.range(1e4, 1e6)).round(),
            motion: Motion::Counter { rate, round: 1.0 },
        });
    }
    Family {
        head: "# HELP node_interrupts_total Interrupt details.\n# TYPE node_interrupts_total counter\n".into(),
        series,
    }
}

fn gauge(mean: f64, sd: f64, p: f64) -> (f64, Motion) {
    (mean, Motion::Gauge { mean, sd, p })
}

/// A gauge whose values are whole numbers.
fn gauge_int(mean: f64, sd: f64, p: f64) -> (f64, Motion) {
    (
        mean.round(),
        Motion::Gauge {
            mean: mean.round(),
            sd: sd.max(1.0),
            p,
        },
    )
}

/// Per-target state: current values and when it was last scraped.
struct TargetState {
    values: Vec<f64>,
    rng: Rng,
    last: Instant,
}

impl TargetState {
    fn new(catalog: &Catalog, seed: u64, target: usize) -> Self {
        let mut rng = Rng::derive(seed, target as u64 + 1);
        let values = catalog
            .families
            .iter()
            .flat_map(|f| &f.series)
            // Targets differ: each starts its counters at a different point.
            .map(|s| match s.motion {
                Motion::Counter { .. } => (s.start * rng.range(0.5, 1.5)).round(),
                _ => s.start,
            })
            .collect();
        TargetState {
            values,
            rng,
            last: Instant::now(),
        }
    }

    /// Advances every value to now and renders the exposition.
    fn render(&mut self, catalog: &Catalog, out: &mut String) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let mut i = 0;
        for f in &catalog.families {
            out.push_str(&f.head);
            for s in &f.series {
                let v = &mut self.values[i];
                i += 1;
                match s.motion {
                    Motion::Counter { rate, round } => {
                        if rate > 0.0 {
                            let inc = rate * dt * self.rng.range(0.5, 1.5);
                            let inc = if round > 0.0 {
                                (inc / round).round() * round
                            } else {
                                inc
                            };
                            // Keep the rounding grid exact (0.01 steps stay 2-decimal).
                            *v = if round > 0.0 {
                                ((*v + inc) / round).round() * round
                            } else {
                                *v + inc
                            };
                        }
                    }
                    Motion::Gauge { mean, sd, p } => {
                        if self.rng.chance(p) {
                            let step = sd * self.rng.normalish() + 0.2 * (mean - *v);
                            *v = if sd >= 1.0 {
                                (*v + step).round()
                            } else {
                                *v + step
                            };
                            if mean >= 0.0 && *v < 0.0 {
                                *v = 0.0;
                            }
                        }
                    }
                    Motion::Const => {}
                }
                out.push_str(&s.prefix);
                write_expfmt(out, *v);
                out.push('\n');
            }
        }
    }
}

/// Counters of what the fixture served.
#[derive(Debug, Default)]
pub struct FixtureStats {
    /// Requests answered.
    pub scrapes: AtomicU64,
    /// Uncompressed body bytes.
    pub bytes: AtomicU64,
    /// Bytes sent (after gzip, when asked for).
    pub wire_bytes: AtomicU64,
}

/// The running fixture.
pub struct Fixture {
    /// One `127.0.0.1:PORT` per target.
    pub addrs: Vec<SocketAddr>,
    /// Series each target exposes.
    pub series_per_target: usize,
    /// Counters.
    pub stats: Arc<FixtureStats>,
}

impl Fixture {
    /// Starts `targets` endpoints with `series` series each.
    pub fn start(targets: usize, series: usize, seed: u64) -> Result<Fixture> {
        let catalog = Arc::new(Catalog::build(series, seed));
        let stats = Arc::new(FixtureStats::default());
        let mut addrs = Vec::with_capacity(targets);
        for t in 0..targets {
            let state = Mutex::new(TargetState::new(&catalog, seed, t));
            let catalog = catalog.clone();
            let stats = stats.clone();
            let handler = Arc::new(move |req: &Request| serve(req, &catalog, &state, &stats));
            let addr = minihttp::serve_loopback(handler)
                .with_context(|| format!("start fixture target {t}"))?;
            addrs.push(addr);
        }
        Ok(Fixture {
            addrs,
            series_per_target: catalog.len(),
            stats,
        })
    }
}

fn serve(
    req: &Request,
    catalog: &Catalog,
    state: &Mutex<TargetState>,
    stats: &FixtureStats,
) -> Response {
    if req.method != "GET" {
        return Response {
            status: 404,
            headers: vec![],
            body: b"GET /metrics only\n".to_vec(),
        };
    }
    let mut text = String::with_capacity(catalog.len() * 110);
    state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .render(catalog, &mut text);
    let gzip = req
        .header("accept-encoding")
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut headers = vec![(
        "Content-Type",
        "text/plain; version=0.0.4; charset=utf-8".to_string(),
    )];
    stats.scrapes.fetch_add(1, Ordering::Relaxed);
    stats.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
    let body = if gzip {
        let mut enc = GzEncoder::new(Vec::with_capacity(text.len() / 5), Compression::fast());
        let _ = enc.write_all(text.as_bytes());
        match enc.finish() {
            Ok(b) => {
                headers.push(("Content-Encoding", "gzip".into()));
                b
            }
            Err(_) => text.into_bytes(),
        }
    } else {
        text.into_bytes()
    };
    stats
        .wire_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    Response {
        status: 200,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_format() {
        let f = |v| {
            let mut s = String::new();
            write_expfmt(&mut s, v);
            s
        };
        assert_eq!(f(1373355.74), "1.37335574e+06");
        assert_eq!(f(123456.5), "123456.5");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00002), "2e-05");
        assert_eq!(f(1.8446744073709552e19), "1.8446744073709552e+19");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.0), "1");
    }

    #[test]
    fn catalog_has_the_requested_size_and_parses() {
        for n in [100, 1000, 3000] {
            let c = Catalog::build(n, 1);
            assert_eq!(c.len(), n);
            let mut st = TargetState::new(&c, 1, 0);
            for _ in 0..2 {
                let mut text = String::new();
                st.render(&c, &mut text);
                let parsed = orrery_wire::parse_exposition(
                    text.as_bytes(),
                    orrery_wire::Format::PrometheusText,
                    &orrery_wire::ParseLimits::default(),
                )
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
                assert_eq!(parsed.samples.len(), n);
            }
        }
    }
}
