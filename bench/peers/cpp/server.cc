// SPDX-License-Identifier: MIT
// Benchmark peer: the same ocr.OCRService on the official C++ gRPC library
// (Debian libgrpc++), written the way its own performance guide recommends:
//
//  - the async (completion-queue) API, one CQ and one polling thread per
//    core it may run on (--cqs, default: the CPUs in its affinity mask, so
//    1 under `taskset -c 1`);
//  - call objects pre-posted on every CQ and recycled after each call (the
//    ServerContext and responder are re-emplaced in place, nothing else is
//    allocated), no thread created per call;
//  - the mock engine answers on the CQ thread; Tesseract work is handed to a
//    fixed pool of --workers threads, each with its own TessBaseAPI per
//    language (created on first use, reused; OpenMP limited to the calling
//    thread with omp_set_max_active_levels(0), as ocrpc does), and the
//    worker finishes the call itself (Finish is thread-safe);
//  - ExtractTextBatch runs its images on the pool in parallel and streams
//    progress in completion order with one write in flight, like ocrpc.
//
// Failures in the engine are answered in-band (STATUS_FAILURE, error.code
// "OCR_ERROR", error.details NOT_FOUND / FORBIDDEN_PATH / DECODE_ERROR /
// UNSUPPORTED_LANGUAGE / INVALID_ARGUMENT).
#include <atomic>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include "ocr.grpc.pb.h"

extern "C" void omp_set_max_active_levels(int max_levels);

using grpc::ServerAsyncResponseWriter;
using grpc::ServerAsyncWriter;
using grpc::ServerCompletionQueue;
using grpc::ServerContext;

namespace {

struct Options {
  int port = 50051;
  std::string host = "[::]";
  bool mock = false;
  int workers = 0;
  int cqs = 0;
  int preposted = 32;
  std::string image_root = ".";
  std::string language = "korean";
  std::string tls_cert, tls_key;  // both set: TLS (bench/tls.sh)
};
Options g_opt;
std::string g_root;  // realpath of the image root
const char *kMockText = "mock text";
constexpr float kMockConf = 0.99f;

// ---------------------------------------------------------------- engine

std::string tess_code(const std::string &name) {
  static const std::unordered_map<std::string, std::string> m = {
      {"", "kor"},          {"korean", "kor"}, {"english", "eng"},
      {"japanese", "jpn"}, {"chinese", "chi_sim"}};
  auto it = m.find(name);
  return it == m.end() ? name : it->second;
}

void fail(ocr::OCRResponse *r, const char *details, const std::string &msg) {
  r->Clear();
  r->set_status(common::STATUS_FAILURE);
  r->mutable_error()->set_code("OCR_ERROR");
  r->mutable_error()->set_message(msg);
  r->mutable_error()->set_details(details);
}

void metadata(ocr::OCRResponse *r, const char *engine, const std::string &lang,
              int w, int h, double queue_ms, double ocr_ms) {
  auto *md = r->mutable_metadata()->mutable_data();
  char b[32];
  (*md)["engine"] = engine;
  (*md)["engine_version"] = g_opt.mock ? "0" : tesseract::TessBaseAPI::Version();
  (*md)["language"] = lang;
  (*md)["image_width"] = std::to_string(w);
  (*md)["image_height"] = std::to_string(h);
  snprintf(b, sizeof b, "%.3f", queue_ms);
  (*md)["queue_ms"] = b;
  snprintf(b, sizeof b, "%.3f", ocr_ms);
  (*md)["ocr_ms"] = b;
  (*md)["rotation"] = "0";
}

void mock_answer(const std::string &lang, ocr::OCRResponse *r) {
  r->set_status(common::STATUS_SUCCESS);
  r->set_text(kMockText);
  r->set_overall_confidence(kMockConf);
  auto *box = r->add_text_boxes();
  box->set_text(kMockText);
  box->set_confidence(kMockConf);
  for (float c : {0.f, 0.f, 100.f, 0.f, 100.f, 20.f, 0.f, 20.f})
    box->mutable_bbox()->add_coordinates(c);
  metadata(r, "mock", tess_code(lang), 0, 0, 0, 0);
}

double now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// One per worker thread: its engines, by language.
struct ThreadEngines {
  std::unordered_map<std::string, std::unique_ptr<tesseract::TessBaseAPI>> apis;
  tesseract::TessBaseAPI *get(const std::string &code) {
    auto it = apis.find(code);
    if (it != apis.end()) return it->second.get();
    auto api = std::make_unique<tesseract::TessBaseAPI>();
    if (api->Init(nullptr, code.c_str(), tesseract::OEM_LSTM_ONLY) != 0) return nullptr;
    auto *p = api.get();
    apis.emplace(code, std::move(api));
    return p;
  }
};
thread_local ThreadEngines t_engines;

int recognise(tesseract::TessBaseAPI *api, tesseract::PageSegMode psm, float threshold,
              ocr::OCRResponse *r, std::string *text, double *conf_sum) {
  api->SetPageSegMode(psm);
  if (api->Recognize(nullptr) != 0) return -1;
  int n = 0;
  std::unique_ptr<tesseract::ResultIterator> it(api->GetIterator());
  if (!it) return 0;
  const auto level = tesseract::RIL_TEXTLINE;
  do {
    std::unique_ptr<char[]> line(it->GetUTF8Text(level));
    if (!line) continue;
    size_t len = strlen(line.get());
    while (len > 0 && strchr(" \t\r\n", line[len - 1])) len--;
    int l, t, rr, b;
    if (len == 0 || !it->BoundingBox(level, &l, &t, &rr, &b)) continue;
    n++;
    float conf = it->Confidence(level) / 100.0f;
    if (conf < threshold) continue;
    auto *box = r->add_text_boxes();
    box->set_text(line.get(), len);
    box->set_confidence(conf);
    for (int c : {l, t, rr, t, rr, b, l, b}) box->mutable_bbox()->add_coordinates((float)c);
    if (!text->empty()) text->push_back('\n');
    text->append(line.get(), len);
    *conf_sum += conf;
  } while (it->Next(level));
  return n;
}

// Worker thread: the whole recognition of one request into r.
void run_ocr(const ocr::OCRRequest &req, const std::string &default_lang, double t_submit,
             ocr::OCRResponse *r) {
  double t0 = now_ms();
  std::string code = tess_code(req.language().empty() ? default_lang : req.language());
  if (g_opt.mock) {
    mock_answer(code, r);
    return;
  }
  const std::string &path = req.private_image_path().empty() ? req.public_image_path()
                                                             : req.private_image_path();
  Pix *pix = nullptr;
  if (!req.image_data().empty()) {
    pix = pixReadMem(reinterpret_cast<const l_uint8 *>(req.image_data().data()),
                     req.image_data().size());
    if (!pix) return fail(r, "DECODE_ERROR", "cannot decode the image");
  } else {
    if (path.empty()) return fail(r, "INVALID_ARGUMENT", "no image in the request");
    std::string joined = path[0] == '/' ? path : g_root + "/" + path;
    char real[PATH_MAX];
    if (!realpath(joined.c_str(), real)) return fail(r, "NOT_FOUND", "no such image: " + path);
    size_t rl = g_root.size();
    if (strncmp(real, g_root.c_str(), rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
      return fail(r, "FORBIDDEN_PATH", "path leaves the image root: " + path);
    pix = pixRead(real);
    if (!pix) return fail(r, "DECODE_ERROR", "cannot decode " + path);
  }
  tesseract::TessBaseAPI *api = t_engines.get(code);
  if (!api) {
    pixDestroy(&pix);
    return fail(r, "UNSUPPORTED_LANGUAGE", "cannot load language " + code);
  }
  float threshold = req.confidence_threshold() > 0 ? req.confidence_threshold() : 0.5f;
  std::string text;
  double conf_sum = 0;
  api->SetImage(pix);
  bool kor = code.compare(0, 3, "kor") == 0;
  int n = recognise(api, kor ? tesseract::PSM_SINGLE_BLOCK : tesseract::PSM_AUTO, threshold,
                    r, &text, &conf_sum);
  if (n == 0 && !kor) n = recognise(api, tesseract::PSM_SINGLE_BLOCK, threshold, r, &text, &conf_sum);
  api->Clear();
  int w = pixGetWidth(pix), h = pixGetHeight(pix);
  pixDestroy(&pix);
  if (n < 0) return fail(r, "OCR_ERROR", "Tesseract recognition failed");
  r->set_status(common::STATUS_SUCCESS);
  r->set_text(text);
  r->set_overall_confidence(r->text_boxes_size() ? conf_sum / r->text_boxes_size() : 0.f);
  metadata(r, "tesseract", code, w, h, t0 - t_submit, now_ms() - t0);
}

// ------------------------------------------------------------ worker pool

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n; i++)
      threads_.emplace_back([this] {
        omp_set_max_active_levels(0);
        for (;;) {
          std::function<void()> job;
          {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
          }
          job();
        }
      });
  }
  void submit(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push_back(std::move(f));
    }
    cv_.notify_one();
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : threads_) t.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};
Pool *g_pool;

// ------------------------------------------------------------ call objects

struct Call {
  virtual ~Call() = default;
  virtual void proceed(bool ok) = 0;
};

using Service = ocr::OCRService::AsyncService;

class ExtractCall final : public Call {
 public:
  ExtractCall(Service *s, ServerCompletionQueue *cq) : svc_(s), cq_(cq) { post(); }
  void proceed(bool ok) override {
    if (state_ == kRequest) {
      if (!ok) {  // shutting down
        delete this;
        return;
      }
      if (g_opt.mock) {
        mock_answer(req_.language().empty() ? g_opt.language : req_.language(), &resp_);
        state_ = kFinish;
        responder_->Finish(resp_, grpc::Status::OK, this);
      } else {
        double t = now_ms();
        g_pool->submit([this, t] {
          run_ocr(req_, g_opt.language, t, &resp_);
          state_ = kFinish;
          responder_->Finish(resp_, grpc::Status::OK, this);
        });
      }
      return;
    }
    post();  // finished: recycle this object for the next call
  }

 private:
  void post() {
    ctx_.emplace();
    responder_.emplace(&*ctx_);
    req_.Clear();
    resp_.Clear();
    state_ = kRequest;
    svc_->RequestExtractText(&*ctx_, &req_, &*responder_, cq_, cq_, this);
  }
  enum { kRequest, kFinish } state_ = kRequest;
  Service *svc_;
  ServerCompletionQueue *cq_;
  std::optional<ServerContext> ctx_;
  std::optional<ServerAsyncResponseWriter<ocr::OCRResponse>> responder_;
  ocr::OCRRequest req_;
  ocr::OCRResponse resp_;
};

class HealthCall final : public Call {
 public:
  HealthCall(Service *s, ServerCompletionQueue *cq) : svc_(s), cq_(cq) { post(); }
  void proceed(bool ok) override {
    if (!finishing_) {
      if (!ok) {
        delete this;
        return;
      }
      resp_.set_status(common::STATUS_SUCCESS);
      resp_.set_engine_type(g_opt.mock ? "mock" : "tesseract");
      resp_.set_model_loaded(true);
      resp_.set_version("1.0.0");
      finishing_ = true;
      responder_->Finish(resp_, grpc::Status::OK, this);
      return;
    }
    post();
  }

 private:
  void post() {
    ctx_.emplace();
    responder_.emplace(&*ctx_);
    req_.Clear();
    resp_.Clear();
    finishing_ = false;
    svc_->RequestCheckHealth(&*ctx_, &req_, &*responder_, cq_, cq_, this);
  }
  bool finishing_ = false;
  Service *svc_;
  ServerCompletionQueue *cq_;
  std::optional<ServerContext> ctx_;
  std::optional<ServerAsyncResponseWriter<ocr::HealthCheckResponse>> responder_;
  ocr::HealthCheckRequest req_;
  ocr::HealthCheckResponse resp_;
};

class BatchCall final : public Call {
 public:
  BatchCall(Service *s, ServerCompletionQueue *cq) : svc_(s), cq_(cq) { post(); }
  void proceed(bool ok) override {
    std::unique_lock<std::mutex> lk(mu_);
    switch (state_) {
      case kRequest: {
        if (!ok) {
          lk.unlock();
          delete this;
          return;
        }
        total_ = req_.image_paths_size();
        batch_id_ = req_.batch_id().empty() ? make_id() : req_.batch_id();
        state_ = kRunning;
        if (total_ == 0) {
          state_ = kFinish;
          writer_->Finish(grpc::Status::OK, this);
          return;
        }
        results_.resize(total_);
        lk.unlock();
        double t = now_ms();
        for (int i = 0; i < total_; i++)
          g_pool->submit([this, i, t] { run_one(i, t); });
        return;
      }
      case kRunning:  // a write completed
        writing_ = false;
        if (!ok) broken_ = true;
        pump(lk);
        return;
      case kFinish:
        lk.unlock();
        post();
        return;
    }
  }

 private:
  static std::string make_id() {
    static std::atomic<unsigned long> n{0};
    return "cpp-" + std::to_string(getpid()) + "-" + std::to_string(++n);
  }
  // Worker thread.
  void run_one(int i, double t) {
    ocr::OCRResponse r;
    bool skip;
    {
      std::lock_guard<std::mutex> lk(mu_);
      skip = broken_;
    }
    if (!skip) {
      const auto &ip = req_.image_paths(i);
      ocr::OCRRequest one;
      one.set_public_image_path(ip.public_path());
      one.set_private_image_path(ip.private_path());
      one.set_image_data(ip.data());
      one.set_language(req_.language());
      one.set_confidence_threshold(req_.confidence_threshold());
      run_ocr(one, g_opt.language, t, &r);
    }
    std::unique_lock<std::mutex> lk(mu_);
    results_[i] = std::move(r);
    ready_.push_back(i);
    done_++;
    pump(lk);
  }
  // Called with mu_ held: starts the next write, or finishes.
  void pump(std::unique_lock<std::mutex> &lk) {
    if (writing_ || state_ != kRunning) return;
    if (!broken_ && !ready_.empty()) {
      int i = ready_.front();
      ready_.pop_front();
      written_++;
      msg_.Clear();
      msg_.set_batch_id(batch_id_);
      msg_.set_total_images(total_);
      msg_.set_processed_images(written_);
      msg_.set_progress_percentage(100.0f * written_ / total_);
      msg_.set_index(i);
      msg_.mutable_current_result()->Swap(&results_[i]);
      writing_ = true;
      writer_->Write(msg_, this);
      return;
    }
    if (done_ == total_ && (broken_ || ready_.empty())) {
      state_ = kFinish;
      writer_->Finish(broken_ ? grpc::Status::CANCELLED : grpc::Status::OK, this);
    }
    (void)lk;
  }
  void post() {
    ctx_.emplace();
    writer_.emplace(&*ctx_);
    req_.Clear();
    results_.clear();
    ready_.clear();
    total_ = done_ = written_ = 0;
    writing_ = broken_ = false;
    state_ = kRequest;
    svc_->RequestExtractTextBatch(&*ctx_, &req_, &*writer_, cq_, cq_, this);
  }
  enum { kRequest, kRunning, kFinish } state_ = kRequest;
  Service *svc_;
  ServerCompletionQueue *cq_;
  std::mutex mu_;
  std::optional<ServerContext> ctx_;
  std::optional<ServerAsyncWriter<ocr::OCRBatchProgress>> writer_;
  ocr::OCRBatchRequest req_;
  ocr::OCRBatchProgress msg_;
  std::string batch_id_;
  std::vector<ocr::OCRResponse> results_;
  std::deque<int> ready_;
  int total_ = 0, done_ = 0, written_ = 0;
  bool writing_ = false, broken_ = false;
};

std::unique_ptr<grpc::Server> g_server;

void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--port N] [--host H] [--engine mock|tesseract] [--workers N]\n"
          "          [--cqs N] [--preposted N] [--image-root DIR] [--language L]\n"
          "          [--tls-cert PEM --tls-key PEM]\n",
          argv0);
  exit(2);
}

}  // namespace

int main(int argc, char **argv) {
  // Blocked before any thread exists, so that only sigwait() below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // "Per core": the cores this process may run on (taskset), not the machine's.
  cpu_set_t cpus;
  int cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  if (cores <= 0) cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  g_opt.workers = g_opt.cqs = cores > 0 ? cores : 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    if (a == "--port") g_opt.port = atoi(val().c_str());
    else if (a == "--host") g_opt.host = val();
    else if (a == "--engine") {
      std::string e = val();
      if (e != "mock" && e != "tesseract") usage(argv[0]);
      g_opt.mock = e == "mock";
    } else if (a == "--workers") g_opt.workers = atoi(val().c_str());
    else if (a == "--cqs") g_opt.cqs = atoi(val().c_str());
    else if (a == "--preposted") g_opt.preposted = atoi(val().c_str());
    else if (a == "--image-root") g_opt.image_root = val();
    else if (a == "--language") g_opt.language = val();
    else if (a == "--tls-cert") g_opt.tls_cert = val();
    else if (a == "--tls-key") g_opt.tls_key = val();
    else usage(argv[0]);
  }
  if (g_opt.workers < 1 || g_opt.cqs < 1 || g_opt.preposted < 1) usage(argv[0]);
  char real[PATH_MAX];
  if (!realpath(g_opt.image_root.c_str(), real)) {
    fprintf(stderr, "cpp-peer: bad --image-root %s\n", g_opt.image_root.c_str());
    return 2;
  }
  g_root = real;
  if (!g_opt.mock) {
    // Tesseract's diagnostics off, once, before any instance exists.
    tesseract::TessBaseAPI quiet;
    quiet.SetVariable("debug_file", "/dev/null");
  }

  Pool pool(g_opt.workers);
  g_pool = &pool;
  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
  std::string addr = g_opt.host + ":" + std::to_string(g_opt.port);
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!g_opt.tls_cert.empty() || !g_opt.tls_key.empty()) {
    // The same PEM files ocrpc gets in bench/tls.sh; no client certificates.
    auto slurp = [](const std::string &path) {
      std::ifstream f(path);
      std::stringstream ss;
      ss << f.rdbuf();
      if (!f || ss.str().empty()) {
        fprintf(stderr, "cpp-peer: cannot read %s\n", path.c_str());
        exit(2);
      }
      return ss.str();
    };
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({slurp(g_opt.tls_key), slurp(g_opt.tls_cert)});
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(addr, creds, &port);
  builder.SetMaxReceiveMessageSize(100 << 20);
  builder.SetMaxSendMessageSize(100 << 20);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<ServerCompletionQueue>> cqs;
  for (int i = 0; i < g_opt.cqs; i++) cqs.push_back(builder.AddCompletionQueue());
  g_server = builder.BuildAndStart();
  if (!g_server || port == 0) {
    fprintf(stderr, "cpp-peer: cannot listen on %s\n", addr.c_str());
    return 1;
  }
  for (auto &cq : cqs) {
    for (int k = 0; k < g_opt.preposted; k++) new ExtractCall(&service, cq.get());
    for (int k = 0; k < 2; k++) new HealthCall(&service, cq.get());
    for (int k = 0; k < 2; k++) new BatchCall(&service, cq.get());
  }
  fprintf(stderr, "cpp-peer: listening on %s:%d engine=%s workers=%d cqs=%d\n",
          g_opt.host.c_str(), port, g_opt.mock ? "mock" : "tesseract", g_opt.workers,
          g_opt.cqs);

  std::vector<std::thread> pollers;
  for (auto &cq : cqs)
    pollers.emplace_back([q = cq.get()] {
      void *tag;
      bool ok;
      while (q->Next(&tag, &ok)) static_cast<Call *>(tag)->proceed(ok);
    });

  // The main thread waits for SIGINT/SIGTERM and shuts the server down.
  int sig = 0;
  sigwait(&set, &sig);
  g_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto &cq : cqs) cq->Shutdown();
  for (auto &t : pollers) t.join();
  return 0;
}
