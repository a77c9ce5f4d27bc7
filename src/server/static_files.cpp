#include "server/static_files.h"

#include <cstring>

#include "http/content_coding.h"
#include "http/media_types.h"
#include "http/static_path.h"
#include "http/static_response.h"
#include "io/file_open.h"

namespace subcorn::server {
namespace {

// Sends `answer` (with `file` as its body when it has one). Returns
// nullptr or what the exchange refused.
const char* send(py::Exchange& exchange, const http::StaticAnswer& answer, io::UniqueFd file = {}) {
  if (const char* mistake = exchange.start_response(answer.status)) return mistake;
  for (const auto& [name, value] : answer.headers)
    if (const char* mistake = exchange.add_header(name, value)) return mistake;
  const char* mistake = nullptr;
  if (answer.file_body) {
    exchange.send_file(std::move(file), answer.file_offset, answer.file_length, false, &mistake);
  } else {
    exchange.send_body(answer.text, false, &mistake);
  }
  return mistake;
}

// Which file answers a request for `relative`: the sibling of the coding the
// client prefers that exists, else the file itself when identity is
// acceptable. Identity (in `*coding`) and no fd when none is.
io::OpenStatus choose_representation(int dir, const std::string& relative,
                                     const http::CodingPreference& codings, io::OpenedFile& original,
                                     io::OpenedFile* chosen, http::Coding* coding) {
  for (int i = 0; i < codings.count; ++i) {
    http::Coding c = codings.order[i];
    if (c == http::Coding::Identity) {
      *chosen = std::move(original);
      *coding = c;
      return io::OpenStatus::Opened;
    }
    io::OpenedFile sibling;
    io::OpenStatus status = io::open_beneath(dir, relative + std::string(http::coding_suffix(c)), &sibling);
    if (status == io::OpenStatus::Failed) return status;
    if (status == io::OpenStatus::Opened && sibling.type == io::OpenedFile::Type::Regular) {
      *chosen = std::move(sibling);
      *coding = c;
      return io::OpenStatus::Opened;
    }
  }
  return io::OpenStatus::NotFound;
}

std::string open_failure(const std::string& dir, const std::string& relative) {
  return "Static file " + dir + "/" + relative + " could not be opened: " + std::strerror(errno);
}

}  // namespace

bool StaticFiles::open(const std::vector<std::pair<std::string, std::string>>& mounts, long max_age,
                       std::string* error) {
  max_age_ = max_age;
  for (const auto& [prefix, dir] : mounts) {
    std::optional<std::string> normalized = http::normalize_static_prefix(prefix);
    if (!normalized) {
      *error = "--static " + prefix + ":" + dir + ": the URL prefix must begin with /";
      return false;
    }
    io::UniqueFd fd = io::open_directory(dir, error);
    if (!fd) {
      *error = "--static " + prefix + ":" + dir + ": " + *error;
      return false;
    }
    prefixes_.push_back(std::move(*normalized));
    mounts_.push_back({dir, std::move(fd)});
  }
  return true;
}

bool StaticFiles::covers(const http::RequestHead& head) const noexcept {
  return !prefixes_.empty() && http::covering_prefix(prefixes_, head.path) >= 0;
}

std::string StaticFiles::answer(py::Exchange& exchange, const http::RequestHead& head) const {
  std::string_view path = http::path_without_query(head.path);
  size_t index = static_cast<size_t>(http::covering_prefix(prefixes_, path));
  const Mount& mount = mounts_[index];
  http::StaticRequest request(head);
  auto sent = [](const char* mistake) { return mistake ? std::string(mistake) : std::string(); };
  if (!request.get_or_head()) return sent(send(exchange, http::answer_refusal(405)));

  http::StaticPath target = http::decode_static_path(path.substr(prefixes_[index].size()));
  if (target.kind == http::StaticPath::Kind::BadRequest) return sent(send(exchange, http::answer_refusal(400)));
  if (target.kind == http::StaticPath::Kind::NotFound) return sent(send(exchange, http::answer_refusal(404)));

  io::OpenedFile file;
  io::OpenStatus status = io::open_beneath(mount.fd.get(), target.relative, &file);
  if (status == io::OpenStatus::Opened && file.type == io::OpenedFile::Type::Directory) {
    std::string index_file = target.relative.empty() ? "index.html" : target.relative + "/index.html";
    status = io::open_beneath(mount.fd.get(), index_file, &file);
    if (status == io::OpenStatus::Opened && file.type != io::OpenedFile::Type::Regular)
      status = io::OpenStatus::NotFound;
    if (status == io::OpenStatus::Opened && !target.directory) {
      // "/docs" -> "/docs/", the query kept.
      std::string location(path);
      location.push_back('/');
      location.append(head.path.substr(path.size()));
      return sent(send(exchange, http::answer_redirect(std::move(location))));
    }
    target.relative = std::move(index_file);
  } else if (status == io::OpenStatus::Opened && target.directory) {
    status = io::OpenStatus::NotFound;  // "a.css/": a file is not a directory
  }
  if (status == io::OpenStatus::Failed) {
    std::string failure = open_failure(mount.dir, target.relative);
    const char* mistake = send(exchange, http::answer_refusal(500));
    return mistake ? failure + "; " + mistake : failure;
  }
  if (status != io::OpenStatus::Opened) return sent(send(exchange, http::answer_refusal(404)));

  http::MediaType type = http::media_type_for(target.relative);
  http::CodingPreference codings;
  if (type.compressible) codings = http::accepted_codings(request.accept_encoding());
  else codings.order[codings.count++] = http::Coding::Identity;  // not negotiated
  io::OpenedFile chosen;
  http::Coding coding = http::Coding::Identity;
  status = choose_representation(mount.fd.get(), target.relative, codings, file, &chosen, &coding);
  if (status == io::OpenStatus::Failed) {
    std::string failure = open_failure(mount.dir, target.relative);
    const char* mistake = send(exchange, http::answer_refusal(500));
    return mistake ? failure + "; " + mistake : failure;
  }
  if (status != io::OpenStatus::Opened)
    return sent(send(exchange, http::answer_refusal(406, type.compressible)));

  http::StaticFileFacts facts{chosen.inode, chosen.size, chosen.mtime_ns, type.content_type, coding,
                              type.compressible};
  http::StaticAnswer answer = http::answer_file(request, facts, max_age_);
  return sent(send(exchange, answer, std::move(chosen.fd)));
}

}  // namespace subcorn::server
