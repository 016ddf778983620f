// A std::mutex is unlocked twice: "unlock of an unlocked mutex (or by a wrong
// thread)".
#include <mutex>

namespace {

std::mutex config_mu;
int config_version = 0;

__attribute__((noinline)) void BumpVersion() {
  config_mu.lock();
  ++config_version;
  config_mu.unlock();
}

__attribute__((noinline)) void ReleaseAgain() {
  config_mu.unlock();  // BUG: not locked any more
}

}  // namespace

int main() {
  BumpVersion();
  ReleaseAgain();
  return config_version == 1 ? 0 : 1;
}
