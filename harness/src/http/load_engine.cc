// The load engine: driver threads, each an epoll loop over the non-blocking
// sockets of the connections it owns. A connection has at most one request
// in flight; each step of it (connect, write, read) goes as far as the
// socket allows and then waits for the socket's next event or the request's
// deadline.
#include "racelab/http/load_engine.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "racelab/base/thread_name.h"
#include "racelab/http/internal/response_parser.h"

namespace racelab::http {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxEvents = 256;
constexpr std::size_t kInitialReadBuffer = 8 * 1024;
// A partial line is at most ResponseParser::kMaxHeadBytes: room for it and
// more, so the parser says what is too long before the buffer runs out.
constexpr std::size_t kMaxReadBuffer = 2 * ResponseParser::kMaxHeadBytes + 1024;

std::string ErrnoText(int error) { return std::system_category().message(error); }

// The bytes of every request to one path: pieces_ joined by the request's
// number, one piece when no header holds "{n}".
class RequestBytes {
 public:
  RequestBytes(const LoadPlan& plan, const std::string& path) {
    std::string piece =
        "GET " + path + " HTTP/1.1\r\nHost: " + plan.host + "\r\nUser-Agent: racelab-load\r\n";
    for (const Header& header : plan.headers) {
      piece += header.name + ": ";
      std::string_view value = header.value;
      for (auto at = value.find("{n}"); at != std::string_view::npos; at = value.find("{n}")) {
        piece += value.substr(0, at);
        pieces_.push_back(std::move(piece));
        piece.clear();
        value.remove_prefix(at + 3);
      }
      piece += value;
      piece += "\r\n";
    }
    piece += "\r\n";
    pieces_.push_back(std::move(piece));
  }

  // The bytes of request `number`: the one piece itself, or the pieces and
  // the number written into *scratch (its capacity reused).
  std::string_view For(long long number, std::string* scratch) const {
    if (pieces_.size() == 1) return pieces_.front();
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    const std::string_view text(digits, static_cast<std::size_t>(end - digits));
    scratch->assign(pieces_.front());
    for (std::size_t k = 1; k < pieces_.size(); ++k) {
      scratch->append(text);
      scratch->append(pieces_[k]);
    }
    return *scratch;
  }

 private:
  std::vector<std::string> pieces_;
};

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

// What every driver of one run reads; only next_request is written.
struct SharedRun {
  explicit SharedRun(const LoadPlan& p) : plan(p) {
    for (const std::string& path : plan.paths) requests.emplace_back(plan, path);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(plan.port);
    if (const int rc = getaddrinfo(plan.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      resolve_error = "resolve " + plan.host + ": " + gai_strerror(rc);
      return;
    }
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      Address address;
      std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
      address.length = a->ai_addrlen;
      address.family = a->ai_family;
      addresses.push_back(address);
    }
    freeaddrinfo(found);
  }

  const LoadPlan& plan;
  std::vector<RequestBytes> requests;  // by path index
  std::vector<Address> addresses;      // tried in order on each connect
  std::string resolve_error;           // when addresses is empty
  std::atomic<long long> next_request{0};
};

// What one driver saw; read by RunLoad after joining it.
struct DriverTally {
  std::vector<LoadCounts> by_path;  // by path index
  std::vector<double> latency_ms;
  std::string first_error;
};

// One keep-alive connection and the request it has in flight.
struct Connection {
  enum class Phase { kIdle, kConnecting, kWriting, kReading, kFinished };

  Phase phase = Phase::kIdle;
  int fd = -1;
  std::uint32_t interest = 0;  // the events fd is registered for
  std::size_t address = 0;     // the address being connected to

  // The request in flight (phase kConnecting, kWriting or kReading).
  long long number = -1;
  std::size_t path = 0;
  bool hang_up = false;
  Clock::time_point started;
  Clock::time_point deadline;
  std::string scratch;    // the request's bytes, when they hold its number
  std::string_view left;  // the bytes not yet written

  std::vector<char> in;  // read, not yet consumed by the parser: in[begin, end)
  std::size_t begin = 0;
  std::size_t end = 0;
  ResponseParser parser;

  // Neighbours in the driver's list of requests in flight, by deadline.
  Connection* earlier = nullptr;
  Connection* later = nullptr;
};

// One driver thread's work: its connections, its epoll set, its counts.
class LoadDriver {
 public:
  LoadDriver(SharedRun& run, int index, int connections)
      : run_(run), index_(index), connections_(static_cast<std::size_t>(connections)) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    tally_.by_path.resize(run_.plan.paths.size());
    const long long share = run_.plan.requests / std::max(1, run_.plan.threads) + connections;
    tally_.latency_ms.reserve(static_cast<std::size_t>(std::min<long long>(share, 1 << 22)));
  }
  ~LoadDriver() {
    for (Connection& c : connections_) CloseSocket(c);
    close(epoll_fd_);
  }
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  // On the driver's own thread: takes requests for every connection until
  // none is left and every one taken is over.
  void Run() {
    SetCurrentThreadName("rl-load-" + std::to_string(index_));
    active_ = connections_.size();
    for (Connection& c : connections_) TakeRequests(c);
    epoll_event events[kMaxEvents];
    while (active_ > 0) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, MillisecondsToNextDeadline());
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "racelab-load: epoll_wait: %s\n", ErrnoText(errno).c_str());
        std::abort();  // only a broken epoll set gets here
      }
      for (int k = 0; k < n; ++k) {
        Connection& c = *static_cast<Connection*>(events[k].data.ptr);
        if (Continue(c) == Step::kOver) TakeRequests(c);
      }
      FailOverdue(Clock::now());
    }
  }

  DriverTally& tally() { return tally_; }

 private:
  // Where a request stands after a step: waiting for its socket, or over
  // (answered, failed or hung up), its connection free for the next.
  enum class Step { kWaiting, kOver };

  // Starts requests on `c` until one waits for its socket; when no request
  // is left, closes `c` for good.
  void TakeRequests(Connection& c) {
    while (true) {
      const long long i = run_.next_request.fetch_add(1, std::memory_order_relaxed);
      if (i >= run_.plan.requests) break;
      c.number = i;
      c.path = static_cast<std::size_t>(i % static_cast<long long>(run_.plan.paths.size()));
      c.hang_up = IsHangUp(i, run_.plan);
      c.started = Clock::now();
      c.deadline = c.started + run_.plan.timeout;
      c.left = run_.requests[c.path].For(i, &c.scratch);
      LinkLast(c);
      const Step step = c.fd < 0 ? Connect(c, 0) : BeginWrite(c);
      if (step == Step::kWaiting) return;
    }
    CloseSocket(c);
    c.phase = Connection::Phase::kFinished;
    --active_;
  }

  // The socket of `c` has an event for the step it waits in.
  Step Continue(Connection& c) {
    switch (c.phase) {
      case Connection::Phase::kConnecting: return FinishConnect(c);
      case Connection::Phase::kWriting: return Write(c);
      case Connection::Phase::kReading: return Read(c);
      default: return Step::kWaiting;  // not in flight: nothing to do
    }
  }

  // Opens a socket to run_.addresses[c.address] or a later one; `error` is
  // what the last address failed with (0: none tried yet).
  Step Connect(Connection& c, int error) {
    if (run_.addresses.empty()) return Fail(c, run_.resolve_error);
    for (; c.address < run_.addresses.size(); ++c.address) {
      const Address& to = run_.addresses[c.address];
      c.fd = socket(to.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) return Fail(c, "socket: " + ErrnoText(errno));
      const int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&to.storage), to.length);
      if (rc == 0 || errno == EINPROGRESS) {
        c.interest = rc == 0 ? 0 : EPOLLOUT;
        epoll_event event{};
        event.events = c.interest;
        event.data.ptr = &c;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event) != 0) {
          return Fail(c, "epoll_ctl: " + ErrnoText(errno));
        }
        if (rc == 0) return Connected(c);
        c.phase = Connection::Phase::kConnecting;
        return Step::kWaiting;
      }
      error = errno;
      close(c.fd);
      c.fd = -1;
    }
    c.address = 0;
    return Fail(c, ConnectTarget() + ErrnoText(error));
  }

  Step FinishConnect(Connection& c) {
    int error = 0;
    socklen_t size = sizeof error;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    if (error == 0) return Connected(c);
    close(c.fd);
    c.fd = -1;
    c.interest = 0;
    ++c.address;
    return Connect(c, error);
  }

  Step Connected(Connection& c) {
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.address = 0;
    return BeginWrite(c);
  }

  Step BeginWrite(Connection& c) {
    c.phase = Connection::Phase::kWriting;
    return Write(c);
  }

  Step Write(Connection& c) {
    while (!c.left.empty()) {
      const ssize_t n = send(c.fd, c.left.data(), c.left.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        c.left.remove_prefix(static_cast<std::size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SetInterest(c, EPOLLOUT);
        return Step::kWaiting;
      } else if (errno != EINTR) {
        return Fail(c, "write: " + ErrnoText(errno));
      }
    }
    if (c.hang_up) {
      CloseSocket(c);
      ++tally_.by_path[c.path].disconnects;
      return EndRequest(c);
    }
    c.phase = Connection::Phase::kReading;
    c.parser.Reset();
    SetInterest(c, EPOLLIN);
    // Bytes past the last answer (a server that said more than it was
    // asked) are the start of this one, as on any keep-alive connection.
    return c.begin < c.end ? Parse(c) : Step::kWaiting;
  }

  Step Read(Connection& c) {
    if (c.in.empty()) c.in.resize(kInitialReadBuffer);
    while (true) {
      if (c.end == c.in.size()) {  // make room: drop what was consumed, or grow
        if (c.begin > 0) {
          std::memmove(c.in.data(), c.in.data() + c.begin, c.end - c.begin);
          c.end -= c.begin;
          c.begin = 0;
        } else if (c.in.size() < kMaxReadBuffer) {
          c.in.resize(std::min(kMaxReadBuffer, 2 * c.in.size()));
        } else {
          return Fail(c, "read: a response line longer than the read buffer");
        }
      }
      const ssize_t n = recv(c.fd, c.in.data() + c.end, c.in.size() - c.end, 0);
      if (n > 0) {
        c.end += static_cast<std::size_t>(n);
        const bool filled = c.end == c.in.size();
        if (Parse(c) == Step::kOver) return Step::kOver;
        if (!filled) return Step::kWaiting;  // drained: epoll says when there is more
      } else if (n == 0) {
        c.parser.FinishAtEof();
        if (c.parser.done()) return Answered(c);
        return Fail(c, "read: " + c.parser.error());
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Step::kWaiting;
      } else if (errno != EINTR) {
        return Fail(c, "read: " + ErrnoText(errno));
      }
    }
  }

  Step Parse(Connection& c) {
    c.begin += c.parser.Feed(std::string_view(c.in.data() + c.begin, c.end - c.begin));
    if (c.begin == c.end) c.begin = c.end = 0;
    if (c.parser.done()) return Answered(c);
    if (c.parser.failed()) return Fail(c, "read: " + c.parser.error());
    return Step::kWaiting;
  }

  Step Answered(Connection& c) {
    const std::chrono::duration<double, std::milli> took = Clock::now() - c.started;
    LoadCounts& counts = tally_.by_path[c.path];
    ++counts.completed;
    ++counts.by_status[c.parser.status()];
    tally_.latency_ms.push_back(took.count());
    if (!c.parser.keep_alive()) CloseSocket(c);
    return EndRequest(c);
  }

  Step Fail(Connection& c, std::string error) {
    ++tally_.by_path[c.path].transport_errors;
    if (tally_.first_error.empty()) tally_.first_error = std::move(error);
    CloseSocket(c);
    return EndRequest(c);
  }

  Step EndRequest(Connection& c) {
    Unlink(c);
    c.number = -1;
    c.address = 0;
    c.phase = Connection::Phase::kIdle;
    return Step::kOver;
  }

  // Fails every request whose deadline is `now` or earlier, and gives its
  // connection the next request.
  void FailOverdue(Clock::time_point now) {
    while (first_ != nullptr && first_->deadline <= now) {
      Connection& c = *first_;
      const char* step = c.phase == Connection::Phase::kConnecting ? nullptr
                         : c.phase == Connection::Phase::kWriting  ? "write: "
                                                                   : "read: ";
      Fail(c, (step ? std::string(step) : ConnectTarget()) + "timed out after " +
                  std::to_string(run_.plan.timeout.count()) + " ms");
      TakeRequests(c);
    }
  }

  // How long epoll may wait: until the earliest deadline, rounded up.
  int MillisecondsToNextDeadline() const {
    if (first_ == nullptr) return -1;
    const auto left = first_->deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<long long>(ms, INT_MAX));
  }

  std::string ConnectTarget() const {
    return "connect " + run_.plan.host + ":" + std::to_string(run_.plan.port) + ": ";
  }

  void SetInterest(Connection& c, std::uint32_t events) {
    if (c.interest == events) return;
    epoll_event event{};
    event.events = events;
    event.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
    c.interest = events;
  }

  // Closes the socket of `c` (which also takes it out of the epoll set) and
  // forgets what was read on it.
  void CloseSocket(Connection& c) {
    if (c.fd >= 0) {
      shutdown(c.fd, SHUT_RDWR);
      close(c.fd);
    }
    c.fd = -1;
    c.interest = 0;
    c.begin = c.end = 0;
  }

  // Requests in flight are taken in deadline order (each gets now +
  // timeout), so appending keeps the list sorted and first_ is the earliest.
  void LinkLast(Connection& c) {
    c.earlier = last_;
    c.later = nullptr;
    (last_ ? last_->later : first_) = &c;
    last_ = &c;
  }
  void Unlink(Connection& c) {
    (c.earlier ? c.earlier->later : first_) = c.later;
    (c.later ? c.later->earlier : last_) = c.earlier;
    c.earlier = c.later = nullptr;
  }

  SharedRun& run_;
  const int index_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;  // never resized: epoll holds their addresses
  std::size_t active_ = 0;               // connections not yet finished
  Connection* first_ = nullptr;          // requests in flight, earliest deadline first
  Connection* last_ = nullptr;
  DriverTally tally_;
};

}  // namespace

void LoadCounts::Add(const LoadCounts& other) {
  completed += other.completed;
  transport_errors += other.transport_errors;
  disconnects += other.disconnects;
  for (const auto& [status, n] : other.by_status) by_status[status] += n;
}

bool IsHangUp(long long request, const LoadPlan& plan) {
  if (plan.disconnects <= 0) return false;
  const long long stride = std::max(1LL, plan.requests / plan.disconnects);
  return (request + 1) % stride == 0 && (request + 1) / stride <= plan.disconnects;
}

int DefaultDriverThreads(int connections) {
  int cores = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores, 1, std::max(1, connections));
}

LoadReport RunLoad(const LoadPlan& plan) {
  LoadPlan effective = plan;
  effective.connections = std::max(1, plan.connections);
  effective.threads = std::clamp(plan.threads, 1, effective.connections);
  SharedRun run(effective);

  std::vector<std::unique_ptr<LoadDriver>> drivers;
  for (int t = 0; t < effective.threads; ++t) {
    // Connections t, t + threads, t + 2 * threads, ... are driver t's.
    const int owned = (effective.connections - t + effective.threads - 1) / effective.threads;
    drivers.push_back(std::make_unique<LoadDriver>(run, t, owned));
  }

  LoadReport report;
  report.threads = effective.threads;
  const auto start = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (auto& driver : drivers) threads.emplace_back([&d = *driver] { d.Run(); });
  }  // joined
  report.elapsed = Clock::now() - start;

  for (const std::string& path : effective.paths) report.by_path[path];  // even unsent
  for (auto& driver : drivers) {
    DriverTally& tally = driver->tally();
    for (std::size_t k = 0; k < tally.by_path.size(); ++k) {
      report.by_path[effective.paths[k]].Add(tally.by_path[k]);
      report.total.Add(tally.by_path[k]);
    }
    report.latency_ms.insert(report.latency_ms.end(), tally.latency_ms.begin(),
                             tally.latency_ms.end());
    if (report.first_error.empty()) report.first_error = std::move(tally.first_error);
  }
  std::sort(report.latency_ms.begin(), report.latency_ms.end());
  return report;
}

}  // namespace racelab::http
