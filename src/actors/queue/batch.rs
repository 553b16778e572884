//! One batch's trip through Redis: the script that queues a batch of jobs atomically, the jobs
//! waiting for their answers, and how the script's answers reach each job.

use std::sync::LazyLock;

use redis::Script;
use tokio::sync::oneshot;

use super::error::QueueError;
use crate::actors::messages::Enqueued;

/// The enqueue script's text (see `enqueue.lua`).
pub(super) const ENQUEUE_LUA: &str = include_str!("enqueue.lua");

/// See `enqueue.lua`.
pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(ENQUEUE_LUA));

/// One job waiting for its batch, its keys built and its payload encoded.
pub(super) struct Pending {
    pub(super) seen: String,
    pub(super) sender: String,
    pub(super) payload: String,
    pub(super) reply: oneshot::Sender<Result<Enqueued, QueueError>>,
}

/// Hands each job of a batch its outcome.
pub(super) fn answer(jobs: Vec<Pending>, result: Result<Vec<String>, QueueError>, stream: &str) {
    let error = match result {
        Ok(answers) if answers.len() == jobs.len() => {
            for (job, answer) in jobs.into_iter().zip(answers) {
                let _ = job.reply.send(outcome(answer, stream));
            }
            return;
        }
        Ok(answers) => {
            QueueError::Unexpected(format!("{} answers for {} jobs", answers.len(), jobs.len()))
        }
        Err(error) => error,
    };
    for job in jobs {
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// One job's answer from the script.
fn outcome(mut answer: String, stream: &str) -> Result<Enqueued, QueueError> {
    match answer.as_bytes().first() {
        Some(b'n') => Ok(Enqueued::Queued {
            id: answer.split_off(1),
        }),
        Some(b'd') => Ok(Enqueued::Duplicate {
            id: answer.split_off(1),
        }),
        Some(b'f') => Err(QueueError::Full(stream.to_string())),
        _ => Err(QueueError::Unexpected(answer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> (Pending, oneshot::Receiver<Result<Enqueued, QueueError>>) {
        let (reply, answered) = oneshot::channel();
        let job = Pending {
            seen: "seen".into(),
            sender: "sender".into(),
            payload: "{}".into(),
            reply,
        };
        (job, answered)
    }

    #[test]
    fn reads_each_jobs_answer_from_the_script() {
        let queued = outcome("n1700000000000-0".into(), "q");
        assert_eq!(
            queued.unwrap(),
            Enqueued::Queued {
                id: "1700000000000-0".into()
            }
        );
        let duplicate = outcome("d1700000000000-1".into(), "q");
        assert_eq!(
            duplicate.unwrap(),
            Enqueued::Duplicate {
                id: "1700000000000-1".into()
            }
        );
        assert!(matches!(outcome("f".into(), "q"), Err(QueueError::Full(s)) if s == "q"));
        assert!(matches!(
            outcome("?".into(), "q"),
            Err(QueueError::Unexpected(_))
        ));
    }

    #[test]
    fn every_job_of_a_batch_gets_its_own_answer_or_the_batchs_error() {
        let (a, a_answer) = pending();
        let (b, b_answer) = pending();
        answer(vec![a, b], Ok(vec!["n1-0".into(), "f".into()]), "q");
        assert!(matches!(
            a_answer.blocking_recv().unwrap(),
            Ok(Enqueued::Queued { .. })
        ));
        assert!(matches!(
            b_answer.blocking_recv().unwrap(),
            Err(QueueError::Full(_))
        ));

        let (a, a_answer) = pending();
        let (b, b_answer) = pending();
        answer(vec![a, b], Ok(vec!["n1-0".into()]), "q");
        for answered in [a_answer, b_answer] {
            assert!(matches!(
                answered.blocking_recv().unwrap(),
                Err(QueueError::Unexpected(_))
            ));
        }

        let (a, a_answer) = pending();
        answer(vec![a], Err(QueueError::Down), "q");
        assert!(matches!(
            a_answer.blocking_recv().unwrap(),
            Err(QueueError::Down)
        ));
    }
}
