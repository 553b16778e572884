//! The actors of the pipeline, one room each, and the typed messages between them (`messages`):
//! `Validator` and `RedisQueue` (`queue`) serve ingress; `WorkerPool` (`pool`) supervises a
//! topic's `TopicWorker`s (`worker`), which send through `TwilioSender` (`sender`) and record
//! through `Recorder` (`recorder`); `Scheduler` (`scheduler`) moves scheduled outbound texts to
//! the queue when due.

pub mod messages;
pub mod pool;
pub mod queue;
pub mod recorder;
pub mod scheduler;
pub mod sender;
pub mod validator;
pub mod worker;
