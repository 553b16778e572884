//! The actors of the pipeline, one per module: `Validator` and `RedisQueue` serve ingress;
//! `WorkerPool` supervises a topic's `TopicWorker`s, which send through `TwilioSender` and
//! record through `Recorder`. `attempt` and `job_end` hold a worker's steps; `pool_redis` the
//! pool's Redis commands; `breaker` lets requests fail fast while Redis is down.

mod attempt;
pub mod breaker;
mod job_end;
pub mod pool_redis;
pub mod queue;
pub mod recorder;
pub mod topic_worker;
pub mod twilio_sender;
pub mod validator;
pub mod worker_pool;
