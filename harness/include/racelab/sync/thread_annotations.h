// Thread-safety annotations for clang's -Wthread-safety analysis.
//
// They make locking visible to the compiler: a field marked
// RACELAB_GUARDED_BY(mu_) read or written without holding mu_ is a compile
// error in the harness and in every fixes/ file (they build with
// -Werror=thread-safety), and so is taking two mutexes against the order
// that RACELAB_ACQUIRED_BEFORE / RACELAB_ACQUIRED_AFTER declare (clang
// checks that only in its beta analysis, -Wthread-safety-beta, which the
// build turns on as an error too). Off clang the macros expand to nothing.
//
// What the analysis cannot see: an order nobody declared, or a lock taken
// inside a function it does not follow (a std::function, a virtual call);
// TSan's lock-order-inversion report covers those at run time.
//
//   racelab::Mutex mu_;
//   std::map<std::string, int> cache_ RACELAB_GUARDED_BY(mu_);
//   void EvictLocked() RACELAB_REQUIRES(mu_);
//   void Put(std::string k, int v) RACELAB_EXCLUDES(mu_);
//
// Memory ordering: none; annotations generate no code.
#ifndef RACELAB_SYNC_THREAD_ANNOTATIONS_H_
#define RACELAB_SYNC_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define RACELAB_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define RACELAB_THREAD_ANNOTATION_(x)
#endif

// On a class: instances are a capability (a mutex).
#define RACELAB_CAPABILITY(name) RACELAB_THREAD_ANNOTATION_(capability(name))
// On an RAII class: acquires in its constructor, releases in its destructor.
#define RACELAB_SCOPED_CAPABILITY RACELAB_THREAD_ANNOTATION_(scoped_lockable)
// On a field: read or written only while holding the capability.
#define RACELAB_GUARDED_BY(x) RACELAB_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer field: the pointee is guarded, the pointer itself is not.
#define RACELAB_PT_GUARDED_BY(x) RACELAB_THREAD_ANNOTATION_(pt_guarded_by(x))
// On a mutex field: lock order, to catch inversions at compile time
// (-Wthread-safety-beta; compile_fail/lock_order_inversion.cc proves it).
#define RACELAB_ACQUIRED_BEFORE(...) RACELAB_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define RACELAB_ACQUIRED_AFTER(...) RACELAB_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
// On a function: the caller must hold the capability (exclusively / shared).
#define RACELAB_REQUIRES(...) RACELAB_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define RACELAB_REQUIRES_SHARED(...) \
  RACELAB_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// On a function: it acquires / releases the capability.
#define RACELAB_ACQUIRE(...) RACELAB_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define RACELAB_ACQUIRE_SHARED(...) \
  RACELAB_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RACELAB_RELEASE(...) RACELAB_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RACELAB_RELEASE_SHARED(...) \
  RACELAB_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define RACELAB_RELEASE_GENERIC(...) \
  RACELAB_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define RACELAB_TRY_ACQUIRE(...) RACELAB_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define RACELAB_TRY_ACQUIRE_SHARED(...) \
  RACELAB_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))
// On a function: the caller must NOT hold the capability (it locks it).
#define RACELAB_EXCLUDES(...) RACELAB_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// On a function: asserts at run time that the capability is held.
#define RACELAB_ASSERT_CAPABILITY(x) RACELAB_THREAD_ANNOTATION_(assert_capability(x))
// On a function: returns a reference to the capability.
#define RACELAB_RETURN_CAPABILITY(x) RACELAB_THREAD_ANNOTATION_(lock_returned(x))
// On a definition only, with a comment saying why the analysis cannot follow.
#define RACELAB_NO_THREAD_SAFETY_ANALYSIS RACELAB_THREAD_ANNOTATION_(no_thread_safety_analysis)

#endif  // RACELAB_SYNC_THREAD_ANNOTATIONS_H_
