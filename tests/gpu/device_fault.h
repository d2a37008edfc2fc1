// A real device fault for tests on a GPU machine: launches a kernel that
// writes to an unmapped address on the current device, so the context fails
// with cudaErrorIllegalAddress at the next synchronising call, exactly as a
// faulty kernel would. Returns false if the launch itself was refused.
#pragma once

namespace tandem::testing {

bool inject_illegal_address_fault();

}  // namespace tandem::testing
