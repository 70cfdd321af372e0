/* The snapbus C ABI: a subscriber's view of the lifecycle bus, for bindings (Python cffi) and C.
 *
 *   snapbus_subscriber* sub = NULL;
 *   if (snapbus_subscriber_open(NULL, "worker", 1, &sub) != SNAPBUS_OK) {
 *     fprintf(stderr, "%s\n", snapbus_last_error_message());
 *     return 1;
 *   }
 *   const volatile uint64_t* gen = snapbus_subscriber_generation_address(sub);  // read it any time
 *   snapbus_state st;
 *   snapbus_subscriber_joined_state(sub, &st);       // the state the slot was claimed at
 *   uint32_t handled = st.seq;
 *   for (;;) {
 *     int rc = snapbus_subscriber_wait(sub, handled, 1000, NULL);
 *     if (rc == SNAPBUS_ERR_TIMED_OUT || rc == SNAPBUS_ERR_INTERRUPTED) continue;
 *     if (rc != SNAPBUS_OK) break;                   // e.g. the segment was lost: reopen it
 *     // The change to handle, read after the wait (an error if the segment was truncated: reopen it).
 *     if (snapbus_subscriber_read_state(sub, &st) != SNAPBUS_OK) break;
 *     ... run the hooks st.phase and st.generation call for, then:
 *     snapbus_subscriber_ack(sub, st.seq, st.generation, SNAPBUS_ACK_OK, 2, 0, "");
 *     handled = st.seq;
 *   }
 *   snapbus_subscriber_close(sub);
 * (A full client also catches up on restores it lived through before it subscribed: see
 * snapbus_first_look and snapbus_subscriber_baseline, and docs/client-semantics.md.)
 *
 * Every function that can fail returns a snapbus_status; no C++ exception ever crosses this
 * boundary. On failure the message is kept per thread until that thread's next failing call and
 * read with snapbus_last_error_message(). Status values equal snapbus::Errc (error.h), and the
 * other enums equal those of layout.h (checked at compile time in snapbus.cpp).
 *
 * Threads: a handle may be read from any thread (generation, state, lost_reason), and
 * snapbus_subscriber_wake may be called while another thread waits; every other call on one handle
 * is one thread's at a time (a client's watcher, or calls under the client's own lock). A handle is
 * used neither after snapbus_subscriber_close nor closed twice. In a forked child, call
 * snapbus_subscriber_after_fork_child first: until then the handle is the parent's (its ack claims
 * a slot first; its waits hear of no lost segment, which only the parent's monitor thread watches).
 *
 * Linking: the target snapbus::bus is a static C++ library; a C program links it with the C++
 * runtime (g++, or -lstdc++).
 */
#ifndef SNAPBUS_SNAPBUS_H
#define SNAPBUS_SNAPBUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SNAPBUS_ABI_VERSION 1

typedef enum snapbus_status {
  SNAPBUS_OK = 0,
  SNAPBUS_ERR_NOT_FOUND = 1,
  SNAPBUS_ERR_PERMISSION_DENIED = 2,
  SNAPBUS_ERR_INVALID_SEGMENT = 3,
  SNAPBUS_ERR_VERSION_MISMATCH = 4,
  SNAPBUS_ERR_BUSY = 5,
  SNAPBUS_ERR_NO_FREE_SLOT = 6,
  SNAPBUS_ERR_TIMED_OUT = 7,
  SNAPBUS_ERR_INVALID_ARGUMENT = 8,
  SNAPBUS_ERR_SYSTEM = 9,
  SNAPBUS_ERR_INTERRUPTED = 10,
  SNAPBUS_ERR_CLOSED = 11,
  SNAPBUS_ERR_INTERNAL = 99 /* an unexpected C++ exception; the message says what */
} snapbus_status;

typedef enum snapbus_phase {
  SNAPBUS_PHASE_STARTING = 0,
  SNAPBUS_PHASE_BEFORE_SNAPSHOT = 1,
  SNAPBUS_PHASE_SNAPSHOT_READY = 2,
  SNAPBUS_PHASE_AFTER_RESTORE = 3,
  SNAPBUS_PHASE_RUNNING = 4,
  SNAPBUS_PHASE_SHUTTING_DOWN = 5
} snapbus_phase;

typedef enum snapbus_ack_outcome {
  SNAPBUS_ACK_NONE = 0,
  SNAPBUS_ACK_OK = 1,
  SNAPBUS_ACK_FAILED = 2
} snapbus_ack_outcome;

/* How Lambda initialised the environment (AWS_LAMBDA_INITIALIZATION_TYPE). */
typedef enum snapbus_init_type {
  SNAPBUS_INIT_UNKNOWN = 0,
  SNAPBUS_INIT_ON_DEMAND = 1,
  SNAPBUS_INIT_PROVISIONED_CONCURRENCY = 2,
  SNAPBUS_INIT_SNAP_START = 3,
  SNAPBUS_INIT_LAMBDA_MANAGED_INSTANCES = 4
} snapbus_init_type;

/* Who caused the last transition. */
typedef enum snapbus_source {
  SNAPBUS_SOURCE_NONE = 0,
  SNAPBUS_SOURCE_MANUAL = 1,
  SNAPBUS_SOURCE_RUNTIME_API = 2,
  SNAPBUS_SOURCE_RUNTIME_API_PROXY = 3
} snapbus_source;

/* What ends snapbus_subscriber_wait_for besides the deadline: every change of seq, or only a change
 * to a phase that runs hooks (before-snapshot, after-restore, shutting-down). A hook runner's watcher
 * sleeps through running, so a restore wakes each process once (layout.h, kWakeHookPhasesOnly). */
typedef enum snapbus_wake_on { SNAPBUS_WAKE_ON_EVERY_CHANGE = 0, SNAPBUS_WAKE_ON_HOOK_PHASES = 1 } snapbus_wake_on;

/* A consistent copy of the lifecycle state (seqlock read). Enum fields hold the raw values of
 * lifecycle.capnp; unknown values from a newer publisher are passed through unchanged. */
typedef struct snapbus_state {
  uint32_t seq;
  uint32_t phase;     /* snapbus_phase */
  uint32_t init_type; /* snapbus_init_type */
  uint32_t source;    /* snapbus_source */
  uint64_t generation;
  uint64_t restore_id_high;
  uint64_t restore_id_low;
  uint64_t snapshot_wall_ns;
  uint64_t snapshot_mono_ns;
  uint64_t restore_wall_ns;
  uint64_t restore_mono_ns;
  uint64_t changed_wall_ns;
  uint32_t publisher_pid;
  uint32_t slot_index; /* this subscriber's slot (UINT32_MAX from snapbus_read_segment_state) */
} snapbus_state;

typedef struct snapbus_subscriber snapbus_subscriber;

/* What a process has handled and in which segment file (device, inode, creation time): the
 * catch-up rule of docs/client-semantics.md decides from it which restores are still due. */
typedef struct snapbus_handled {
  uint64_t device;
  uint64_t inode;
  uint64_t created_wall_ns;
  uint64_t generation;
} snapbus_handled;

int snapbus_abi_version(void);

/* The message of this thread's last failed call ("" if none). Valid until the next failing call. */
const char* snapbus_last_error_message(void);
/* errno of this thread's last failed call when it was a system call, else 0. */
int snapbus_last_error_errno(void);
/* "not_found", "timed_out", ... ; "unknown" for a value outside snapbus_status. */
const char* snapbus_status_name(int status);
/* "before-snapshot", "after-restore", ... ; "unknown" for a value outside snapbus_phase. */
const char* snapbus_phase_name(uint32_t phase);

/* Writes the segment path this process would use (SNAPBUS_SEGMENT, else the default) with a NUL.
 * SNAPBUS_ERR_INVALID_ARGUMENT if it does not fit in buf_len. */
int snapbus_default_segment_path(char* buf, size_t buf_len);

/* Blocks (inotify) until a file exists at path (NULL: the default path) or timeout_ms passes.
 * SNAPBUS_OK when it exists, SNAPBUS_ERR_TIMED_OUT when timeout_ms passed first. timeout_ms < 0
 * waits forever. SNAPBUS_ERR_NOT_FOUND at once, whatever timeout_ms, when the path's directory does
 * not exist: no file can appear there, so a caller must not wait again. */
int snapbus_wait_for_segment(const char* path, int64_t timeout_ms);

/* Maps the segment at path (NULL: the default path) and claims a slot named name (NULL or "":
 * the process's comm). wait_for_ack != 0 makes the publisher wait for this process's acks. */
int snapbus_subscriber_open(const char* path, const char* name, int wait_for_ack, snapbus_subscriber** out);
/* Like snapbus_subscriber_open, for a process re-attaching: handled (NULL: nothing yet) says what
 * it has handled where. Restores it has not handled and that were published after its first look
 * are due: snapbus_subscriber_baseline tells from which generation on. */
int snapbus_subscriber_open_after(const char* path, const char* name, int wait_for_ack, const snapbus_handled* handled,
                                  snapbus_subscriber** out);
/* The attached segment's identity and the generation whose after-restore hooks count as run in
 * this process (they are due when the joined state's generation is above it). */
int snapbus_subscriber_baseline(const snapbus_subscriber* sub, snapbus_handled* out);
/* Takes this process's first look at path (NULL: the default path), once per path for the
 * process's life: call it at start-up, so a late attach still knows which restores it lived
 * through. */
int snapbus_first_look(const char* path);

/* The state of the segment at path (NULL: the default path), read once without a subscriber: maps
 * it read-only, as `snapbus status` does, and claims no slot, so it answers with every slot taken.
 * slot_index is UINT32_MAX. SNAPBUS_ERR_NOT_FOUND when there is no segment,
 * SNAPBUS_ERR_INVALID_SEGMENT for a truncated or foreign one. SNAPBUS_ERR_TIMED_OUT after up to
 * 500 ms when the state stays mid-write (its publisher died inside a write): it reads once a new
 * publisher takes the segment over, so try again later. */
int snapbus_read_segment_state(const char* path, snapbus_state* out);

/* Frees the slot (if this process owns it) and unmaps. NULL is ignored. */
void snapbus_subscriber_close(snapbus_subscriber* sub);

/* Addresses of the mapped generation (u64) and seq (u32) words, valid until close. A binding may
 * keep a buffer over them and read the generation without calling into the library. A plain aligned
 * load of the word is single-copy atomic on x86-64 and arm64, but orders nothing: a new generation
 * only says that something changed, and the rest of the state is read through the library
 * (snapbus_subscriber_read_state, which takes the seqlock). C code that acts on the word itself loads it
 * with __atomic_load_n(gen, __ATOMIC_ACQUIRE), as snapbus_subscriber_generation does. */
const volatile uint64_t* snapbus_subscriber_generation_address(const snapbus_subscriber* sub);
const volatile uint32_t* snapbus_subscriber_seq_address(const snapbus_subscriber* sub);
/* The hot path as a call: one acquire load. */
uint64_t snapbus_subscriber_generation(const snapbus_subscriber* sub);

/* The segment's current state. SNAPBUS_ERR_INVALID_SEGMENT if the file was truncated under this
 * process (it would read as zeros): reopen the path. A deleted or replaced segment still reads as
 * it last was (snapbus_subscriber_lost_reason says what happened). */
int snapbus_subscriber_read_state(const snapbus_subscriber* sub, snapbus_state* out);
/* The state the slot was claimed at by snapbus_subscriber_open: a client's baseline. A change made
 * after it shows as another seq, so none is lost between opening and the client's first read. */
int snapbus_subscriber_joined_state(const snapbus_subscriber* sub, snapbus_state* out);

/* Sleeps while seq == seen_seq, up to timeout_ms (< 0: no bound). SNAPBUS_OK when seq changed
 * (current_seq, if not NULL, gets the new value), SNAPBUS_ERR_TIMED_OUT,
 * SNAPBUS_ERR_INTERRUPTED (a signal, snapbus_subscriber_wake, or the segment lost during the wait),
 * or SNAPBUS_ERR_INVALID_SEGMENT once the segment is lost (deleted, replaced, truncated; the reason
 * is snapbus_subscriber_lost_reason's): reopen the path then, do not wait again. */
int snapbus_subscriber_wait(const snapbus_subscriber* sub, uint32_t seen_seq, int64_t timeout_ms,
                            uint32_t* current_seq);
/* snapbus_subscriber_wait, woken only as wake_on (snapbus_wake_on) says; any other value is
 * SNAPBUS_ERR_INVALID_ARGUMENT. */
int snapbus_subscriber_wait_for(const snapbus_subscriber* sub, uint32_t seen_seq, int64_t timeout_ms, uint32_t wake_on,
                                uint32_t* current_seq);
/* Wakes every waiter on seq (used to stop a watcher thread). */
int snapbus_subscriber_wake(const snapbus_subscriber* sub);

/* Why the segment is no longer the one at its path (deleted, replaced, truncated); NULL while it
 * is. Valid until close. Detach (close) and open again. */
const char* snapbus_subscriber_lost_reason(const snapbus_subscriber* sub);
/* What the last ack did on its own ("" if nothing): a slot lost while this process lived (or after
 * a fork) is claimed again, and this sentence says so. Valid until the next ack or close. */
const char* snapbus_subscriber_notice(const snapbus_subscriber* sub);

/* Acknowledges seq in this process's slot. outcome is a snapbus_ack_outcome; message (may be NULL)
 * names failed hooks and their errors and is truncated to fit the slot. A seq the segment has not
 * reached yet is SNAPBUS_ERR_INVALID_ARGUMENT: the publisher counts an ack for every change up to it.
 * A seq older than this slot's last ack is dropped (SNAPBUS_OK, and the notice says so): the newer
 * ack counts for it already.
 * An ack that reports nothing (ok, no hook run or failed, no message, handled_generation unchanged) for
 * a phase that runs no hooks leaves the slot's outcome, counts and message as an earlier ack wrote
 * them (a slot's first ack is written whole, and a note_running_hook line is always replaced):
 * `snapbus status` after a restore keeps showing what the restore ran. */
int snapbus_subscriber_ack(snapbus_subscriber* sub, uint32_t seq, uint64_t handled_generation, uint32_t outcome,
                           uint32_t hooks_run, uint32_t hooks_failed, const char* message);

/* Before each hook: records "running <phase> hook '<hook>'" in this process's slot, so a publisher
 * that stops waiting can name the hook still running. The next ack replaces it. It also makes a
 * death in the hook a failure of the change: a subscriber that dies after a change with no hook
 * noted has run none, and counts as ended (not a failure), as a pool worker that leaves then. */
int snapbus_subscriber_note_running_hook(snapbus_subscriber* sub, const char* phase, const char* hook);

/* Call in a forked child: claims a fresh slot for the child, and maps the segment again through a
 * descriptor of its own; the parent keeps its slot. A child that does neither (close it or exec)
 * keeps the parent's slot lock alive through the mappings it inherited, even after the parent
 * dies, until the child ends. */
int snapbus_subscriber_after_fork_child(snapbus_subscriber* sub);

/* Instead of the call above, in a child forked by the hooks of the change at seq (a pool or helper a
 * hook starts): the child's slot is born acknowledging seq (ok, no hooks run, handled_generation), so
 * the publisher never sees it unacknowledged, even if it is ended at once. A seq the segment has not
 * reached yet is SNAPBUS_ERR_INVALID_ARGUMENT. */
int snapbus_subscriber_after_fork_child_within_change(snapbus_subscriber* sub, uint32_t seq,
                                                      uint64_t handled_generation);

/* *alive = 1 if a publisher holds the segment's publisher lock, else 0. */
int snapbus_subscriber_publisher_alive(const snapbus_subscriber* sub, int* alive);

#ifdef __cplusplus
}
#endif

#endif /* SNAPBUS_SNAPBUS_H */
