//! The actors of the pipeline, one room each, and the typed messages between them (`messages`):
//! `Validator` and `RedisQueue` (`queue`) serve ingress; `WorkerPool` (`pool`) supervises a
//! topic's `TopicWorker`s (`worker`), which send through `TwilioSender` (`sender`) and record
//! through `Recorder` (`recorder`); `Scheduler` (`scheduler`) moves scheduled outbound texts to
//! the queue when due.

pub(crate) mod messages;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod recorder;
pub(crate) mod scheduler;
pub(crate) mod sender;
pub(crate) mod validator;
pub(crate) mod worker;
