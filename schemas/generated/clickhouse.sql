-- Generated from schemas/events by schemas/clickhouse/tables.ts; do not edit.

CREATE TABLE IF NOT EXISTS failures
(
    type LowCardinality(String),
    event_id UUID COMMENT 'Deterministic from the input position (topic, partition, offset, jail); the dedup key.',
    jail LowCardinality(String) COMMENT 'The jail whose filter matched.',
    ip IPv6 COMMENT 'The failing address: IPv4, IPv6, or a CIDR network, as captured by <HOST>/<ADDR>/<CIDR>.',
    ip_prefix UInt8 COMMENT 'Prefix length of ip in IPv6 terms: 128 for one address; an IPv4 network /n is 96 + n.',
    host LowCardinality(String) COMMENT 'The source host whose log had the line.',
    user Nullable(String) COMMENT 'The user name captured by <F-USER>, when the filter has one.',
    fid Nullable(String) COMMENT 'The failure id captured by <F-ID>: failures are then counted per id instead of per address, as in fail2ban.',
    matches Array(String) COMMENT 'The log lines of this failure (several for multi-line filters).',
    occurred_at DateTime64(3, 'UTC') COMMENT 'Event time, from the log line (not the time it was read).',
    source LowCardinality(String) COMMENT 'Where the line was read: a file path, a journald match, or a syslog listener.',
    regex_index UInt32 COMMENT 'Which failregex of the filter matched, counting from 0 (fail2ban-regex shows the same index).',
    success Bool DEFAULT false COMMENT 'True when the line reports a success rather than a failure (<F-NOFAIL>, a gained multi-line match): never counted; with reset_on_success it clears the count of its address.',
    backlog Bool DEFAULT false COMMENT 'True when the line was read from what a file already held at start rather than tailed live: such lines older than findtime are ignored, as fail2ban ignores them at start.',
    INDEX jail_idx jail TYPE set(1024) GRANULARITY 4,
    INDEX host_idx host TYPE set(1024) GRANULARITY 4,
    INDEX user_idx user TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toMonday(occurred_at)
ORDER BY (ip, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 90 DAY
SETTINGS min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1
COMMENT 'FailureDetected events of the failures topic, one row per event_id (deduplicated on merge; read with FINAL).';

CREATE TABLE IF NOT EXISTS decisions
(
    type LowCardinality(String),
    event_id UUID COMMENT 'Deterministic from the input that caused the ban; the dedup key.',
    cause_event_id Nullable(UUID) COMMENT 'The event that caused this ban: the last counted FailureDetected, or the BanAddress command.',
    jail LowCardinality(String),
    ip IPv6 COMMENT 'What to ban: an IPv4 or IPv6 address, or a CIDR network (IPv6 addresses are counted and banned per network, /64 unless the jail says otherwise).',
    ip_prefix UInt8 COMMENT 'Prefix length of ip in IPv6 terms: 128 for one address; an IPv4 network /n is 96 + n.',
    fid Nullable(String) COMMENT 'The failure id failures were counted under (<F-ID>), when it was not the address.',
    user Nullable(String) COMMENT 'The user name the first counted failure captured (<F-USER>), as fail2ban\'s ban ticket keeps it; actions get it as <F-USER>.',
    failures Nullable(UInt32) COMMENT 'Failures counted in the window that reached maxretry; 0 for a manual ban.',
    ban_time_secs Nullable(Int32) COMMENT 'Length of the ban in seconds from occurred_at; -1 = permanent. Includes the bantime.increment growth.',
    ban_count Nullable(UInt32) COMMENT 'How many times this address has been banned in this jail (across all jails with bantime.overalljails), this ban included; drives bantime.increment.',
    expires_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the ban ends (occurred_at + ban_time_secs); null for a permanent ban.',
    occurred_at DateTime64(3, 'UTC') COMMENT 'Event time the ban starts from: the time of the last counted failure, or of the command.',
    reason LowCardinality(String) COMMENT '\'threshold\': maxretry failures within findtime; \'manual\': an operator\'s BanAddress; \'prolonged\': an address already banned reached maxretry again and its ban now ends later.',
    targets Array(String) COMMENT 'The hosts whose actuators apply this ban (the jail\'s bantarget: the hosts whose logs showed the failures, named hosts, or a manual ban\'s target); absent = every host.',
    matches Array(String) COMMENT 'The log lines that led to the ban (at most maxmatches).',
    ban_event_id Nullable(UUID) COMMENT 'The BanIssued this lifts (the latest one for the address, after any prolonging).',
    INDEX jail_idx jail TYPE set(1024) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (ip, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 730 DAY
COMMENT 'BanIssued and BanLifted events of the decisions topic, one row per event_id (deduplicated on merge; read with FINAL).';

CREATE TABLE IF NOT EXISTS actuations
(
    type LowCardinality(String),
    event_id UUID COMMENT 'Deterministic from the decision, host and action; the dedup key.',
    decision_event_id UUID COMMENT 'The BanIssued or BanLifted this carries out.',
    host LowCardinality(String) COMMENT 'The host whose actuator acted.',
    jail LowCardinality(String),
    ip IPv6 COMMENT 'The address or network, as in the decision.',
    ip_prefix UInt8 COMMENT 'Prefix length of ip in IPv6 terms: 128 for one address; an IPv4 network /n is 96 + n.',
    backend LowCardinality(String) COMMENT 'The actuator backend: \'nftables\', \'ipset\', \'exec\', \'webhook\', \'mail\', or \'dry-run\'.',
    action LowCardinality(String) COMMENT 'The jail action as jail.conf names it, e.g. nftables[name=sshd, port="ssh"].',
    outcome LowCardinality(String) COMMENT '\'applied\': the ban is in force on the host; \'removed\': the unban is; \'failed\': see error; \'skipped\': a ban already over when it reached the host; \'dry-run\': logged, not applied.',
    error Nullable(String) COMMENT 'Why it failed, as the backend reported it.',
    occurred_at DateTime64(3, 'UTC') COMMENT 'When the actuator acted (its wall clock).',
    INDEX host_idx host TYPE set(1024) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (ip, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 90 DAY
COMMENT 'Actuation events of the actuations topic, one row per event_id (deduplicated on merge; read with FINAL).';

CREATE TABLE IF NOT EXISTS lines
(
    stream LowCardinality(String) COMMENT 'What jails select on: the file path, journald, or syslog.',
    host LowCardinality(String) COMMENT 'The source host whose log had the line.',
    received_at DateTime64(3, 'UTC') COMMENT 'When the source read the line (wall clock).',
    partition UInt32 COMMENT 'The lines topic partition of the record that carried the line.',
    offset UInt64 COMMENT 'The offset of that record.',
    line_index UInt32 COMMENT 'The place of the line in its record, counting from 0.',
    line String COMMENT 'The line as read, without its terminator.',
    occurred_at Nullable(DateTime64(3, 'UTC')) COMMENT 'Event time where the source knew it better than the text (the journal\'s timestamp).',
    backlog Bool DEFAULT false COMMENT 'True when the line was already in its file when banstream started.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (host, stream, received_at, partition, offset, line_index)
TTL toDateTime(received_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Raw lines of the lines topic, kept for replay when enabled; one row per (partition, offset, line_index) after merges.';
