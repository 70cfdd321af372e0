@0xf8beb2a411c2bd74;
# The snapbus segment contract.
#
# A segment file is [SegmentHeader | LifecycleState | padding to a page | slotCount x slot]. Every
# record here is a data-only struct: no pointers, every default zero, so a raw reader in any
# language maps the file and reads fields at the offsets this schema fixes, with no XOR and no
# Cap'n Proto runtime. New fields may only be appended (new ordinals get new offsets, old ones never
# move); a change that moves a field bumps layoutVersion.
#
# Offsets are in bytes from the start of the record. They follow Cap'n Proto's data-section
# allocation and are checked against the generated code by bus/layout_test.cpp.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("snapbus::schema");

const magic :UInt64 = 0x3153554250414e53;
# "SNAPBUS1" read as a little-endian u64. Written last by the creator, so a segment whose magic
# reads right has every other header field already in place.

const layoutVersion :UInt32 = 1;
# Bumped whenever an existing offset or size changes meaning.

const pageBytes :UInt32 = 4096;
# The slot table starts on this boundary so subscribers can map the state read-only and only the
# slot table read-write.

const slotBytes :UInt32 = 512;
# One subscriber slot: the SubscriberSlot data section, then the name, then the ack message.

const slotNameOffset :UInt32 = 48;
const slotNameBytes :UInt32 = 32;
# NUL-padded UTF-8 name the subscriber gave itself (for `snapbus status`).

const slotMessageOffset :UInt32 = 80;
const slotMessageBytes :UInt32 = 432;
# NUL-padded UTF-8 text of the last acknowledgement: each failed hook's name and error.

const defaultSlotCount :UInt32 = 64;

enum Phase {
  starting @0;        # the environment is initialising; no snapshot bracket has begun
  beforeSnapshot @1;  # subscribers run before-snapshot hooks (last registered first), then ack
  snapshotReady @2;   # every awaited subscriber acked; the snapshot may be taken
  afterRestore @3;    # a restore happened: subscribers run after-restore hooks (first registered first)
  running @4;         # serving invocations
  shuttingDown @5;    # best-effort shutdown hooks; nobody waits past Lambda's window
}

enum InitType {
  unknown @0;
  onDemand @1;
  provisionedConcurrency @2;
  snapStart @3;
  lambdaManagedInstances @4;
}

enum TransitionSource {
  none @0;
  manual @1;          # `snapbus publish`
  runtimeApi @2;      # the adapter's own runtime client
  runtimeApiProxy @3; # the adapter proxying another runtime client
}

enum AckOutcome {
  none @0;            # nothing acknowledged yet
  ok @1;              # every hook for ackedSeq returned normally
  failed @2;          # at least one hook failed; the slot message names them
}

struct SegmentHeader {
  # At offset 0 of the file. Written once by the creator; the publisher identity is rewritten when a
  # new publisher takes the segment over.
  magic @0 :UInt64;              # 0
  layoutVersion @1 :UInt32;      # 8
  headerBytes @2 :UInt32;        # 12
  stateOffset @3 :UInt32;        # 16
  stateBytes @4 :UInt32;         # 20
  slotsOffset @5 :UInt32;        # 24
  slotBytes @6 :UInt32;          # 28
  slotCount @7 :UInt32;          # 32
  publisherPid @8 :UInt32;       # 36
  publisherStartTime @9 :UInt64; # 40: clock ticks since boot (/proc/<pid>/stat field 22)
  segmentBytes @10 :UInt64;      # 48: the whole file
  createdWallNs @11 :UInt64;     # 56
}

struct LifecycleState {
  # The lifecycle truth. Single writer (the publisher) under the seqlock on `seq`.
  seq @0 :UInt32;                # 0: even = stable, odd = write in progress; the futex word
  phase @1 :Phase;               # 4
  initType @2 :InitType;         # 6
  generation @3 :UInt64;         # 8: restores this memory image has been through; the hot-path word
  restoreIdHigh @4 :UInt64;      # 16: fresh random 128-bit id drawn at each restore
  restoreIdLow @5 :UInt64;       # 24
  snapshotWallNs @6 :UInt64;     # 32: CLOCK_REALTIME of the last beforeSnapshot
  snapshotMonoNs @7 :UInt64;     # 40: CLOCK_MONOTONIC of the same
  restoreWallNs @8 :UInt64;      # 48: CLOCK_REALTIME of the last restore
  restoreMonoNs @9 :UInt64;      # 56
  changedWallNs @10 :UInt64;     # 64: CLOCK_REALTIME of the last transition of any kind
  publisherPid @11 :UInt32;      # 72
  source @12 :TransitionSource;  # 76
}

struct SubscriberSlot {
  # Written only by the process that claimed it, except that the publisher frees slots of dead
  # processes (CAS of pid back to 0).
  pid @0 :UInt32;                # 0: claim word; 0 = free
  ackedSeq @1 :UInt32;           # 4: state seq fully handled; the futex word the publisher waits on
  startTime @2 :UInt64;          # 8: clock ticks since boot of pid, to tell a reused pid apart
  handledGeneration @3 :UInt64;  # 16: generation whose after-restore hooks this process has run
  ackWallNs @4 :UInt64;          # 24
  flags @5 :UInt32;              # 32: bit 0 = the publisher waits for this slot's acks
  outcome @6 :AckOutcome;        # 36
  hooksRun @7 :UInt16;           # 38
  hooksFailed @8 :UInt16;        # 40
  recordSeq @9 :UInt32;          # 44: the owner's write counter, even = stable, odd = writing
                                 #     (a seqlock over ackedSeq, the fields after startTime, and the
                                 #     message)
}
