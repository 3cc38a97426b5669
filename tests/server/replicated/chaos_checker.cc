#include "tests/server/replicated/chaos_checker.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace portlease::chaos {
namespace {

std::string Times(absl::Time sent, absl::Time answered) {
  return absl::StrCat(absl::ToUnixMicros(sent), " ",
                      absl::ToUnixMicros(answered));
}

std::string Short(absl::string_view id) { return std::string(id.substr(0, 8)); }

std::string At(absl::Time t) {
  return absl::FormatTime("%H:%M:%E6S", t, absl::UTCTimeZone());
}

// One acknowledged lease as its client's log tells it.
struct Lease {
  std::string id;
  std::string request_id;
  size_t client = 0;
  std::vector<uint32_t> ports;
  uint64_t token = 0;
  absl::Time start = absl::InfiniteFuture();  // first ACQUIRED answer
  absl::Time expiry = absl::InfinitePast();   // last acknowledged
  absl::Time release_sent = absl::InfiniteFuture();
  absl::Time end() const { return std::min(release_sent, expiry); }
};

// One parsed line.
struct Line {
  absl::Time sent, answered;
  std::string kind;
  std::vector<std::string> words;  // after the kind
  std::string message;             // FAILED: the rest of the line
};

bool ParseTime(absl::string_view word, absl::Time* t) {
  int64_t us = 0;
  if (!absl::SimpleAtoi(word, &us)) return false;
  *t = absl::FromUnixMicros(us);
  return true;
}

bool ParseLine(absl::string_view text, Line* line) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ' ');
  if (parts.size() < 4 || !ParseTime(parts[0], &line->sent) ||
      !ParseTime(parts[1], &line->answered)) {
    return false;
  }
  line->kind = std::string(parts[2]);
  size_t words = 0;
  if (line->kind == "ACQUIRED") {
    words = 5;
  } else if (line->kind == "RENEWED") {
    words = 2;
  } else if (line->kind == "RELEASED") {
    words = 1;
  } else if (line->kind == "FAILED") {
    // OP ID CODE, then the message: the rest of the line, spaces and all.
    parts = absl::StrSplit(text, absl::MaxSplits(' ', 6));
    words = 3;
    if (parts.size() == 7) line->message = std::string(parts[6]);
  } else {
    return false;
  }
  if (parts.size() < 3 + words) return false;
  if (line->kind != "FAILED" && parts.size() != 3 + words) return false;
  for (size_t i = 3; i < 3 + words; ++i) line->words.emplace_back(parts[i]);
  return true;
}

class Checker {
 public:
  void Read(size_t client, const std::string& log);
  void CheckPorts();
  ChaosCheck& result() { return result_; }

 private:
  bool Acquired(size_t client, const Line& line);
  bool Failed(size_t client, const Line& line);
  Lease* Find(const std::string& id) {
    auto it = leases_.find(id);
    return it == leases_.end() ? nullptr : &it->second;
  }
  void CheckOverlaps(uint32_t port, std::vector<const Lease*> spans);
  void CheckTokens(uint32_t port, const std::vector<const Lease*>& spans);

  ChaosCheck result_;
  absl::flat_hash_map<std::string, Lease> leases_;
  // request_id -> when it was first sent, and the lease it was answered with.
  absl::flat_hash_map<std::string, absl::Time> request_sent_;
  absl::flat_hash_map<std::string, std::string> request_lease_;
};

void Checker::Read(size_t client, const std::string& log) {
  int number = 0;
  for (absl::string_view text : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++number;
    Line line;
    bool ok = ParseLine(text, &line);
    if (ok) {
      ++result_.calls;
      if (line.kind == "ACQUIRED") {
        ok = Acquired(client, line);
      } else if (line.kind == "FAILED") {
        ok = Failed(client, line);
      } else {
        Lease* lease = Find(line.words[0]);
        ok = lease != nullptr && lease->client == client;
        if (ok && line.kind == "RENEWED") {
          ok = ParseTime(line.words[1], &lease->expiry);
        } else if (ok) {
          lease->release_sent = std::min(lease->release_sent, line.sent);
        }
        result_.acks += ok ? 1 : 0;
      }
    }
    if (!ok) {
      result_.malformed.push_back(
          absl::StrCat("client ", client, " line ", number, ": ", text));
    }
  }
}

bool Checker::Acquired(size_t client, const Line& line) {
  const std::string& id = line.words[0];
  const std::string& request = line.words[1];
  std::vector<uint32_t> ports;
  for (absl::string_view p : absl::StrSplit(line.words[2], ',')) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(p, &port)) return false;
    ports.push_back(port);
  }
  uint64_t token = 0;
  absl::Time expiry;
  if (!absl::SimpleAtoi(line.words[3], &token) ||
      !ParseTime(line.words[4], &expiry) || ports.empty()) {
    return false;
  }
  ++result_.acks;
  auto [sent, fresh] = request_sent_.emplace(request, line.sent);
  if (!fresh) sent->second = std::min(sent->second, line.sent);
  auto [answered, first] = request_lease_.emplace(request, id);
  if (!first && answered->second != id) {
    result_.fencing.push_back(
        absl::StrCat("request ", Short(request), " of client ", client,
                     " was answered with two leases: ", Short(answered->second),
                     " and ", Short(id)));
  }
  auto [it, created] = leases_.try_emplace(id);
  Lease& lease = it->second;
  if (created) {
    lease.id = id;
    lease.request_id = request;
    lease.client = client;
    lease.ports = ports;
    lease.token = token;
  } else if (lease.client != client || lease.ports != ports ||
             lease.token != token) {
    result_.fencing.push_back(
        absl::StrCat("lease ", Short(id),
                     " answered twice with different clients, ports "
                     "or tokens (clients ",
                     lease.client, " and ", client, ")"));
  }
  lease.start = std::min(lease.start, line.answered);
  lease.expiry = expiry;
  return true;
}

bool Checker::Failed(size_t client, const Line& line) {
  const std::string& op = line.words[0];
  const std::string& id = line.words[1];
  const std::string& code = line.words[2];
  ++result_.failures[code];
  if (code == "UNKNOWN" || code == "OK" || line.message.empty()) {
    result_.unclear.push_back(absl::StrCat("client ", client, ": ", op, " ",
                                           Short(id), " failed with ", code,
                                           " '", line.message, "'"));
  }
  if (op == "acquire") {
    auto [sent, fresh] = request_sent_.emplace(id, line.sent);
    if (!fresh) sent->second = std::min(sent->second, line.sent);
    return true;
  }
  if (op != "renew" && op != "release") return false;
  Lease* lease = Find(id);
  if (lease == nullptr || lease->client != client) return false;
  const bool gone = code == "NOT_FOUND" || code == "FAILED_PRECONDITION";
  if (gone && line.sent < lease->release_sent) {
    if (line.answered < lease->expiry) {
      result_.losses.push_back(absl::StrCat(
          "lease ", Short(id), " of client ", client, ": ", op, " answered ",
          code, " at ", At(line.answered), ", before its acknowledged expiry ",
          At(lease->expiry), ": ", line.message));
    } else {
      ++result_.expired_answers;
    }
  }
  if (op == "release") {
    lease->release_sent = std::min(lease->release_sent, line.sent);
  }
  return true;
}

void Checker::CheckPorts() {
  std::map<uint32_t, std::vector<const Lease*>> by_port;
  for (const auto& [id, lease] : leases_) {
    for (uint32_t port : lease.ports) by_port[port].push_back(&lease);
  }
  result_.leases = static_cast<int64_t>(leases_.size());
  result_.ports_checked = static_cast<int64_t>(by_port.size());
  for (auto& [port, spans] : by_port) {
    std::sort(spans.begin(), spans.end(), [](const Lease* a, const Lease* b) {
      return a->start < b->start || (a->start == b->start && a->id < b->id);
    });
    CheckOverlaps(port, spans);
    CheckTokens(port, spans);
  }
}

void Checker::CheckOverlaps(uint32_t port, std::vector<const Lease*> spans) {
  std::vector<const Lease*> active;  // started, not ended yet
  for (const Lease* b : spans) {
    if (b->end() <= b->start) continue;  // answered after it ended
    active.erase(
        std::remove_if(active.begin(), active.end(),
                       [b](const Lease* a) { return a->end() <= b->start; }),
        active.end());
    for (const Lease* a : active) {
      result_.overlaps.push_back(absl::StrCat(
          "port ", port, ": lease ", Short(a->id), " (client ", a->client,
          ", token ", a->token, ") held it from ", At(a->start), " until ",
          At(a->end()), "; lease ", Short(b->id), " (client ", b->client,
          ", token ", b->token, ") was granted it at ", At(b->start)));
    }
    active.push_back(b);
  }
}

void Checker::CheckTokens(uint32_t port,
                          const std::vector<const Lease*>& spans) {
  for (const Lease* b : spans) {
    auto sent = request_sent_.find(b->request_id);
    const absl::Time b_sent =
        sent == request_sent_.end() ? b->start : sent->second;
    for (const Lease* a : spans) {
      if (a->start >= b_sent) break;  // sorted by start
      if (a->token < b->token) continue;
      result_.fencing.push_back(absl::StrCat(
          "port ", port, ": lease ", Short(a->id), " was answered at ",
          At(a->start), " with token ", a->token, ", before lease ",
          Short(b->id), " was asked for at ", At(b_sent),
          ", which got the lower or equal token ", b->token));
    }
  }
}

std::string Clean(absl::string_view message) {
  return absl::StrReplaceAll(message, {{"\n", " "}, {"\r", " "}});
}

}  // namespace

std::string FormatAcquired(absl::Time sent, absl::Time answered,
                           const std::string& lease_id,
                           const std::string& request_id, uint32_t base_port,
                           uint32_t count, uint64_t token, absl::Time expiry) {
  std::vector<uint32_t> ports;
  for (uint32_t i = 0; i < count; ++i) ports.push_back(base_port + i);
  return absl::StrCat(Times(sent, answered), " ACQUIRED ", lease_id, " ",
                      request_id, " ", absl::StrJoin(ports, ","), " ", token,
                      " ", absl::ToUnixMicros(expiry));
}

std::string FormatRenewed(absl::Time sent, absl::Time answered,
                          const std::string& lease_id, absl::Time expiry) {
  return absl::StrCat(Times(sent, answered), " RENEWED ", lease_id, " ",
                      absl::ToUnixMicros(expiry));
}

std::string FormatReleased(absl::Time sent, absl::Time answered,
                           const std::string& lease_id) {
  return absl::StrCat(Times(sent, answered), " RELEASED ", lease_id);
}

std::string FormatFailed(absl::Time sent, absl::Time answered,
                         const std::string& op, const std::string& id,
                         const absl::Status& status) {
  return absl::StrCat(Times(sent, answered), " FAILED ", op, " ", id, " ",
                      absl::StatusCodeToString(status.code()), " ",
                      Clean(status.message()));
}

std::string ChaosCheck::Summary() const {
  std::vector<std::string> codes;
  int64_t failed = 0;
  for (const auto& [code, n] : failures) {
    codes.push_back(absl::StrCat(code, ":", n));
    failed += n;
  }
  return absl::StrCat("calls=", calls, " acks=", acks, " failures=", failed,
                      " {", absl::StrJoin(codes, ","), "} leases=", leases,
                      " ports_checked=", ports_checked,
                      " expired_answers=", expired_answers,
                      " overlaps=", overlaps.size(), " losses=", losses.size(),
                      " fencing=", fencing.size(), " unclear=", unclear.size(),
                      " malformed=", malformed.size());
}

std::string ChaosCheck::Violations(size_t limit) const {
  std::string out;
  for (const auto* kind :
       {&overlaps, &losses, &fencing, &unclear, &malformed}) {
    for (size_t i = 0; i < kind->size() && i < limit; ++i) {
      absl::StrAppend(&out, (*kind)[i], "\n");
    }
    if (kind->size() > limit) {
      absl::StrAppend(&out, "... and ", kind->size() - limit, " more\n");
    }
  }
  return out;
}

ChaosCheck CheckChaosLogs(const std::vector<std::string>& logs) {
  Checker checker;
  for (size_t client = 0; client < logs.size(); ++client) {
    checker.Read(client, logs[client]);
  }
  checker.CheckPorts();
  return std::move(checker.result());
}

}  // namespace portlease::chaos
