{{ config(materialized='view') }}
select order_id, customer_id, status, amount, dt
from {{ source('shop', 'orders') }}
