/* Test-only injector and verifier descriptors for exercising the registry,
 * the loader and anything else that walks descriptors, without touching the
 * machine.
 *
 * test-knobs (injector) takes one parameter of every type:
 *   target  string, required
 *   count   integer 1..10, default 1
 *   ratio   number 0..1, no default
 *   enabled boolean, default false
 *   label   string of at most 8 characters, default "knob"
 *   mode    one of fast|slow|off, default fast
 * Its validate() refuses count above 5 with mode fast ("count above 5 needs
 * mode slow"), its supported() refuses mode off, its apply() records "target"
 * in the undo data and its revert() reports what it undid. Nothing else.
 *
 * test-probe (verifier) answers what its `result` parameter says (met,
 * not-met or error) with the observation "probe: RESULT"; it also takes the
 * `injection`, `service` and `note` string parameters, so cross references
 * are checked on it like on a real verifier.
 *
 * Every callback counts its calls in test_descriptor_calls. */
#ifndef CHAOSLAB_TEST_DESCRIPTORS_H
#define CHAOSLAB_TEST_DESCRIPTORS_H

#include "core/registry.h"

#define TEST_KNOBS_INJECTOR "test-knobs"
#define TEST_PROBE_VERIFIER "test-probe"

extern const struct injector test_knobs_injector;
extern const struct verifier test_probe_verifier;

struct test_descriptor_calls {
	int supported, validate, apply, revert, check, release;
};

/* Zeroed by test_descriptors_register(). */
extern struct test_descriptor_calls test_descriptor_calls;

/* Make test-knobs and test-probe visible to injector_find()/verifier_find()
 * and the iterators (they replace any other test-only descriptors), and zero
 * the call counts. */
void test_descriptors_register(void);

/* Remove every test-only injector and verifier from the registry again. */
void test_descriptors_unregister(void);

#endif
